"""Retrieval: the vector stores, the dense and sparse encoders, fusion and the retriever."""
