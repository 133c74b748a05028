"""The web UI (`mlplat ui`): a FastAPI front door that browses the store through mlplat.ops."""
