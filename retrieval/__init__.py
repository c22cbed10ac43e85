"""Retrieval: the vector stores, the sparse encoder, fusion and the retriever."""
