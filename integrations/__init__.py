"""Steward where applications already are: a LangChain retriever (`integrations.langchain`), a
LlamaIndex retriever (`integrations.llamaindex`) and an MCP server (`integrations.mcp`).

Each speaks to Steward through the client (client/), never the engine (.importlinter says so),
and imports its framework only when imported itself: install the extra it needs,
`pip install 'steward[langchain]'` or `'steward[llamaindex]'`.
"""
