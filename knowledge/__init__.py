"""The knowledge base: articles, the index over them, and answers composed from them."""
