"""The GraphQL types, inputs, errors, limits and policy; `app.api` assembles them into the schema."""
