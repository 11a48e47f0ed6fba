"""The query compiler: validated query operations run as cached plans (app.execution.plan
builds them, app.execution.run runs them), graphql-core's execution being the fallback
(app.execution.executor decides). See the README, "Compiled execution"."""

from app.execution.executor import CompiledExecutor

__all__ = ["CompiledExecutor"]
