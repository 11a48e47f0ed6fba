"""Running a plan: breadth-first, one selection set per list level.

All objects of one level are resolved together: every field of every object is started
(resolvers called, attribute reads done) before anything is awaited, so each DataLoader
sees the keys of the whole level and loads them with one batch. The coroutines are then
driven by hand (`_drive`) instead of one asyncio Task each: resolvers here wait on
loader futures, and a Task per field costs more than the field itself.

Results are written straight into the response dicts, in graphql-core's field order
(every dict of a selection gets its keys in the same order; an awaited field holds
its place with None). Errors follow graphql-core exactly: the error is located at the
field (or list item) with its nodes and path, and a null at a non-null position
propagates to the nearest nullable ancestor, which becomes null; graphql-core's own
`CollectedErrors` keeps the list (it drops errors below a position already nulled), and
`_Pos` is the linked position it walks (`prev`). Paths are only built for errors and for
the one `info` per field and level.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import CoroutineType
from typing import Any

from graphql import ExecutionResult, GraphQLError, located_error
from graphql.execution.executor import Executor
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, Undefined, is_iterable
from strawberry.types.arguments import convert_arguments

from app.execution.plan import Abstract, Direct, Field, Leaf, ListOf, Object, Selection

# One object to resolve: its source value, its response dict and its position.
Item = tuple[Any, dict[str, Any], "_Pos | None"]


class _Pos:
    """A position in the response: `container[key]`, whose type is non-null or not.
    `prev` is the enclosing position (None: the root), as in graphql-core's Path."""

    __slots__ = ("prev", "key", "typename", "container", "non_null")

    def __init__(self, prev: _Pos | None, key: str | int, typename: str | None, container: Any, non_null: bool) -> None:
        self.prev, self.key, self.typename, self.container, self.non_null = prev, key, typename, container, non_null

    def as_list(self) -> list[str | int]:
        keys: list[str | int] = []
        pos: _Pos | None = self
        while pos is not None:
            keys.append(pos.key)
            pos = pos.prev
        keys.reverse()
        return keys

    def as_path(self) -> Path:
        prev = None if self.prev is None else self.prev.as_path()
        return Path(prev, self.key, self.typename)


class _ByType:
    """The next level's items of an abstract field, one list per possible type."""

    __slots__ = ("info", "lists")

    def __init__(self, info: Any, lists: dict[str, list[Item]]) -> None:
        self.info, self.lists = info, lists


class _Waiting:
    """A resolver's awaitable, driven by hand, and where its value goes."""

    __slots__ = ("steps", "field", "out", "pos", "kids", "index")

    def __init__(self, steps: Any, field: Field, out: Any, pos: _Pos | None, kids: Any, index: int | None = None) -> None:
        # A field's value goes to out[field.key] (out: the object's dict, pos: the object's
        # position); a list item's (index not None) to out[index] (out: the list, pos: its position).
        self.steps, self.field, self.out, self.pos, self.kids, self.index = steps, field, out, pos, kids, index


def _steps(awaitable: Any) -> Any:
    """What `send` steps: the coroutine itself, or any other awaitable's iterator."""
    return awaitable if type(awaitable) is CoroutineType else awaitable.__await__()


class Run:
    """One execution of a plan by `executor` (the graphql-core executor of this request:
    variables, context, root value, resolve infos and the collected errors)."""

    def __init__(self, executor: Any) -> None:
        self.executor = executor
        self.errors = executor.collected_errors
        self.data: dict[str, Any] | None = {}
        self.nulled = False  # whether an error nulled a position (then dead objects are skipped)
        self.propagating: list[tuple[GraphQLError, _Pos]] | None = None  # see _fail
        self.pending: list[_Waiting] = []  # awaitables not stepped yet

    async def execute(self, plan: Selection) -> ExecutionResult:
        level: list[tuple[Selection, list[Item]]] = [(plan, [(self.executor.root_value, self.data, None)])]
        while level and self.data is not None:
            level = await self._level(level)
        return self.executor.build_response(self.data)

    async def _level(self, batches: list[tuple[Selection, list[Item]]]) -> list[tuple[Selection, list[Item]]]:
        children: list[tuple[Selection, list[Item]]] = []
        for selection, items in batches:
            if self.nulled:
                has_nulled = self.errors.has_nulled_position
                items = [item for item in items if not has_nulled(item[2])]
            if not items:
                continue
            # Object by object, field by field: graphql-core's order, so that errors are
            # listed (and resolvers stepped) in the order graphql-core would list them.
            starts = [self._starter(field, items, children) for field in selection.fields]
            for item in items:
                for start in starts:
                    start(item)
        if self.pending:
            await self._drive()
        return [(selection, items) for selection, items in children if items]

    def _starter(
        self, field: Field, items: list[Item], children: list[tuple[Selection, list[Item]]]
    ) -> Callable[[Item], None]:
        """What resolves `field` on one item of this level: a value at hand is completed at
        once, an awaitable joins `pending`. The work shared by the level is done here once."""
        completion = field.completion
        getter = field.getter
        item_plan = completion.item if isinstance(completion, ListOf) else completion
        info = self._info(field, items) if getter is None or isinstance(item_plan, Abstract) else None
        kids: Any = None  # where the objects this field finds go: the next level's items
        if isinstance(item_plan, Object):
            kids = []
            children.append((item_plan.selection, kids))
        elif isinstance(item_plan, Abstract):
            kids = _ByType(info, {})
            for name, selection in item_plan.selections.items():
                kids.lists[name] = []
                children.append((selection, kids.lists[name]))
        key = field.key
        complete, field_error = self._complete, self._field_error
        if getter is not None:
            verbatim = completion.verbatim if isinstance(completion, Leaf) else None

            def read(item: Item) -> None:
                source, out, pos = item
                try:
                    value = getter(source)
                except Exception as error:
                    field_error(error, field, out, pos)
                    return
                if type(value) is verbatim:
                    out[key] = value
                else:
                    complete(field, value, out, pos, kids)

            return read

        executor = self.executor
        try:
            args = (
                get_argument_values(field.definition, field.nodes[0], executor.variable_values, None, executor.hide_suggestions)
                if field.has_args
                else {}
            )
            if field.direct is not None:
                call = self._direct_call(field.direct, info, args)
            else:
                resolve = field.resolve

                def call(source: Any) -> Any:
                    return resolve(source, info, **args)

        except Exception as failed:  # the same error for every item, as graphql-core raises it per item
            refused = failed
            return lambda item: field_error(refused, field, item[1], item[2])

        is_awaitable = executor.is_awaitable
        append = self.pending.append

        def start(item: Item) -> None:
            source, out, pos = item
            try:
                result = call(source)
            except Exception as error:
                field_error(error, field, out, pos)
                return
            if is_awaitable(result):
                out[key] = None  # holds the key's place in the dict's order
                append(_Waiting(_steps(result), field, out, pos, kids))
            else:
                complete(field, result, out, pos, kids)

        return start

    def _info(self, field: Field, items: list[Item]) -> Any:
        """The resolve info of `field` for this level: graphql-core's for the first item
        (only its path differs between items, and no resolver here reads the path)."""
        first = items[0][2]
        path = Path(None if first is None else first.as_path(), field.key, field.parent_type.name)
        return self.executor.build_resolve_info(field.definition, field.nodes, field.parent_type, path)

    @staticmethod
    def _direct_call(direct: Direct, info: Any, args: dict[str, Any]) -> Any:
        """`source -> resolver result` as Strawberry's resolver wrapper computes it
        (strawberry.schema.schema_converter.get_arguments), with the Info and the
        converted arguments made once for the level."""
        strawberry_info = direct.config.info_class(_raw_info=info, _field=direct.field)
        kwargs = convert_arguments(
            args, direct.field.arguments, scalar_registry=direct.scalar_registry, config=direct.config, info=strawberry_info
        )
        if direct.info_name is not None:
            kwargs[direct.info_name] = strawberry_info
        function, source_names = direct.function, direct.source_names
        if source_names:

            def with_source(source: Any) -> Any:
                return function(*((source,) if direct.self_parameter else ()), **kwargs, **dict.fromkeys(source_names, source))

            return with_source
        if direct.self_parameter:
            return lambda source: function(source, **kwargs)
        return lambda _source: function(**kwargs)

    # --- completion ---------------------------------------------------------------------

    def _complete(self, field: Field, value: Any, out: dict[str, Any], pos: _Pos | None, kids: Any) -> None:
        """graphql-core's complete_value for `field` of the object at `pos`; objects found
        are queued in `kids` for the next level."""
        key = field.key
        completion = field.completion
        try:
            if isinstance(value, Exception):
                raise value
            if value is None or value is Undefined:
                if completion.non_null:
                    raise TypeError(field.non_null_message)
                out[key] = None
            elif isinstance(completion, Leaf):
                out[key] = self._leaf(completion, value)
            elif isinstance(completion, (Object, Abstract)):
                target = kids if isinstance(completion, Object) else self._of_runtime_type(field, completion, value, kids)
                child: dict[str, Any] = {}
                out[key] = child
                target.append((value, child, _Pos(pos, key, field.parent_type.name, out, completion.non_null)))
            else:
                self._list(field, completion, value, out, pos, kids)  # type: ignore[arg-type]
        except Exception as error:
            self._field_error(error, field, out, pos)

    def _list(self, field: Field, completion: ListOf, value: Any, out: dict[str, Any], pos: _Pos | None, kids: Any) -> None:
        if self.executor.is_async_iterable(value):
            raise TypeError("compiled execution does not complete async iterables")  # no resolver returns one
        if not is_iterable(value):
            raise GraphQLError(
                f"Expected Iterable, but did not find one for field '{field.parent_type.name}.{field.name}'."
            )
        item = completion.item
        key = field.key
        result: list[Any] = []
        out[key] = result  # before the items: an item's error may null this list again
        here = _Pos(pos, key, field.parent_type.name, out, completion.non_null)
        verbatim = item.verbatim if isinstance(item, Leaf) else None
        is_awaitable = self.executor.is_awaitable
        for index, element in enumerate(value):
            if type(element) is verbatim:
                result.append(element)
                continue
            result.append(None)  # the item's place
            if is_awaitable(element):  # e.g. `_entities`: one resolve_reference per representation
                self.pending.append(_Waiting(_steps(element), field, result, here, kids, index))
            else:
                self._complete_item(field, element, result, index, here, kids)

    def _complete_item(self, field: Field, element: Any, result: list[Any], index: int, here: _Pos, kids: Any) -> None:
        """graphql-core's completion of a list item into result[index] (`here`: the list)."""
        item = field.completion.item  # type: ignore[union-attr]
        try:
            if isinstance(element, Exception):
                raise element
            if element is None or element is Undefined:
                if item.non_null:
                    raise TypeError(field.non_null_message)
            elif isinstance(item, Leaf):
                result[index] = self._leaf(item, element)
            else:
                target = kids if isinstance(item, Object) else self._of_runtime_type(field, item, element, kids)
                child: dict[str, Any] = {}
                result[index] = child
                target.append((element, child, _Pos(here, index, None, result, item.non_null)))
        except Exception as error:
            self._item_error(error, field, result, index, here)

    def _of_runtime_type(self, field: Field, abstract: Abstract, value: Any, kids: _ByType) -> list[Item]:
        """The next level's items of `value`'s runtime type (graphql-core's resolve_type and
        its checks of the answer, with its errors)."""
        executor = self.executor
        resolve_type = abstract.type.resolve_type or executor.type_resolver
        name = resolve_type(value, kids.info, abstract.type)
        if executor.is_awaitable(name):
            close = getattr(name, "close", None)
            if close is not None:
                close()  # a coroutine never awaited would warn
            raise TypeError("compiled execution does not await resolve_type")  # Strawberry's is synchronous
        runtime = executor.ensure_valid_runtime_type(name, abstract.type, field.details, kids.info, value)
        return kids.lists[runtime.name]

    @staticmethod
    def _leaf(leaf: Leaf, value: Any) -> Any:
        coerced = leaf.type.coerce_output_value(value)
        if coerced is Undefined or coerced is None:
            Executor.complete_leaf_value(leaf.type, value)  # raises graphql-core's own error
        return coerced

    # --- errors ---------------------------------------------------------------------------

    def _field_error(self, error: Exception, field: Field, out: dict[str, Any], pos: _Pos | None) -> None:
        at = _Pos(pos, field.key, field.parent_type.name, out, field.completion.non_null)
        self._fail(located_error(error, field.nodes, at.as_list()), at)

    def _item_error(self, error: Exception, field: Field, result: list[Any], index: int, here: _Pos) -> None:
        result[index] = None
        at = _Pos(here, index, None, result, field.completion.item.non_null)  # type: ignore[union-attr]
        self._fail(located_error(error, field.nodes, at.as_list()), at)

    def _fail(self, error: GraphQLError, at: _Pos | None) -> None:
        """graphql-core's handle_field_error plus the propagation of non-null errors:
        the nearest nullable position at or above `at` becomes null (the root: no data).

        While awaitables are stepped, an error at a nullable position is recorded at once,
        but one that propagates waits for the end of the round: in graphql-core it travels
        up through awaiting tasks, each a loop turn later, and the tasks stepped in the same
        turn record their own errors first."""
        if self.propagating is not None and at is not None and at.non_null:
            self.propagating.append((error, at))
            return
        self._null(error, at)

    def _null(self, error: GraphQLError, at: _Pos | None) -> None:
        while at is not None and at.non_null:
            at = at.prev
        if at is None:
            self.data = None
        else:
            at.container[at.key] = None
        self.nulled = True
        self.errors.add(error, at)

    # --- driving the resolvers' coroutines ------------------------------------------------

    async def _drive(self) -> None:
        """Run the pending awaitables together, each step in the order they were started
        (as a Task per awaitable would): new ones (awaitable list items) take their first
        step, and whenever all are blocked, wait until what one of them waits on is done."""
        blocked: list[tuple[_Waiting, Any]] = []
        try:
            while True:
                if self.pending:
                    fresh, self.pending = self.pending, []
                    self._round([(entry, None) for entry in fresh], blocked)
                    continue
                if not blocked:
                    return
                futures = {future for _entry, future in blocked if future is not None}
                if futures:
                    await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)
                else:
                    await asyncio.sleep(0)  # a bare `yield` (asyncio.sleep(0)) asks for one loop turn
                # Those whose future is done go on, in the order they started, as their
                # Tasks would be woken; the others wait for the next completion.
                resumed = [(e, f) for e, f in blocked if f is None or f.done()]
                blocked = [(e, f) for e, f in blocked if f is not None and not f.done()]
                self._round(resumed, blocked)
        finally:
            # Left over only when cancelled (e.g. the execution timeout): close them.
            for entry in [*(entry for entry, _future in blocked), *self.pending]:
                entry.steps.close()
            self.pending = []

    def _round(self, entries: list[tuple[_Waiting, Any]], blocked: list[tuple[_Waiting, Any]]) -> None:
        self.propagating = propagating = []
        try:
            for entry, _future in entries:
                self._step(entry, blocked)
        finally:
            self.propagating = None
        for error, at in propagating:
            self._null(error, at)

    def _step(self, entry: _Waiting, blocked: list[tuple[_Waiting, Any]]) -> None:
        try:
            yielded = entry.steps.send(None)
        except StopIteration as done:
            if entry.index is None:
                self._complete(entry.field, done.value, entry.out, entry.pos, entry.kids)
            else:
                self._complete_item(entry.field, done.value, entry.out, entry.index, entry.pos, entry.kids)  # type: ignore[arg-type]
            return
        except Exception as error:
            if entry.index is None:
                self._field_error(error, entry.field, entry.out, entry.pos)
            else:
                self._item_error(error, entry.field, entry.out, entry.index, entry.pos)  # type: ignore[arg-type]
            return
        if yielded is not None:
            if getattr(yielded, "_asyncio_future_blocking", None) is None:
                raise RuntimeError(f"compiled execution: a resolver yielded {yielded!r}, not a future")
            yielded._asyncio_future_blocking = False  # what a Task does with the future it waits on
        blocked.append((entry, yielded))
