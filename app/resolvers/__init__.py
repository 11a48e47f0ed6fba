"""Root resolvers: thin — parse arguments, call a service or a loader, return a type."""
