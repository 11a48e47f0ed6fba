"""Whistle: a GraphQL API server for volleyball referee management."""
