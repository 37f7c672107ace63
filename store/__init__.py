"""The store's work, as plain async functions over a pool/connection and values.

Handlers parse and shape; these functions decide. Background jobs and tests call them too.
"""
