"""Persistence: SQLAlchemy Core tables, repositories, the UnitOfWork, read queries.

The only package that imports SQLAlchemy. Repositories map rows to aggregates and
back in private helpers; they raise domain errors (ConcurrentUpdate), never GraphQL ones.
"""
