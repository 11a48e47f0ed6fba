"""Running a plan: graphql-core's order of work, without its per-field interpretation.

What is at hand is completed at once, depth first, as graphql-core does: an attribute read,
a synchronous resolver, an object found that way and its own fields. Every resolver that
returns an awaitable is started and set aside; only when nothing more can be started are
the awaitables run, all of them together. So every field of every object of a list is
started before anything is awaited, and each DataLoader gets the keys of the whole list
(the whole level of the response) in one batch. The awaitables are stepped by hand
(`_drive`) instead of one asyncio Task each (resolvers here wait on loader futures, and a
Task per field costs more than the field itself), in the order their Tasks would run:
in the order they were started, each resumed once its future is done. When one finishes,
its value is completed there and then, which starts the next level's resolvers. A field
with a batch form (app.execution.plan.BATCH) is not started per object: the objects of a
level join one batch per field, set aside like one awaitable, and its values are
completed object by object when it is done.

Results are written straight into the response dicts, in graphql-core's field order (an
awaited field holds its place with None). Errors are graphql-core's: located at the field
(or list item) with its nodes and path; a null at a non-null position propagates to the
nearest nullable ancestor, which becomes null; graphql-core's own `CollectedErrors` keeps
the list (it drops errors below a position already nulled) and walks `_Pos`, the linked
position (`prev`). Paths are only built for errors and for the one `info` per field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextvars import ContextVar
from types import CoroutineType
from typing import Any

from graphql import ExecutionResult, GraphQLError, located_error
from graphql.execution.executor import Executor
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, Undefined, is_iterable
from strawberry.types.arguments import convert_arguments

from app.execution.flat import Build
from app.execution.plan import Abstract, Direct, Field, Leaf, ListOf, Object, Selection


# True while a plan runs: the futures resolvers await are never cancelled by their waiter
# (no Task waits on them: an awaitable given up is closed with CancelledError thrown into
# it, and a cancelled execution cancels only the runner's own wait), so a loader may hand
# the same future to every caller of a key (app.loaders.batch).
uncancelled_waits: ContextVar[bool] = ContextVar("uncancelled_waits", default=False)


# How many flat dicts a plan's object type keeps (`_settle_flat_batch`): more than a
# league's venues, teams and referees; a plan whose values are new on every request
# starts over when it is full.
_BUILT_KEPT = 4096


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



class _Waiting:
    """An awaitable set aside, stepped by hand, and where its value goes: a field's value
    to out[field.key] (out: the object's dict, pos: the object's position); a list item's
    (index not None) to out[index] (out: the list, pos: the list's position)."""

    __slots__ = ("steps", "field", "out", "pos", "index")

    def __init__(self, steps: Any, field: Field, out: Any, pos: _Pos | None, index: int | None = None) -> None:
        self.steps, self.field, self.out, self.pos, self.index = steps, field, out, pos, index


class _Batch:
    """The objects of one level whose `field` goes to its batch form together: their
    sources, and where each one's value goes (`outs[i][field.key]`, the object at
    `positions[i]`); the batches of several fields that objects join together share
    these lists. Objects join until the awaitables set aside are stepped; the batch form
    reads `sources` only then, at its first step."""

    __slots__ = ("field", "sources", "outs", "positions")

    def __init__(self, field: Field, sources: list[Any], outs: list[dict[str, Any]], positions: list[_Pos | None]) -> None:
        self.field, self.sources, self.outs, self.positions = field, sources, outs, positions


def _generated(build: Build | None, source: Any) -> dict[str, Any] | None:
    """What generated code (app.execution.flat) makes of `source`: a flat object, or the
    leaves of an object whose other fields are batched (None in each one's place); None
    when there is no such code or it leaves the value to the general completion."""
    if build is None:
        return None
    try:
        return build(source)
    except Exception:  # noqa: BLE001 - the general completion meets it again and reports it
        return None


def _cancel(steps: Any) -> None:
    """Throw CancelledError into an awaitable that will not be stepped again; what it
    awaits while cleaning up is not waited for."""
    try:
        steps.throw(asyncio.CancelledError())
    except BaseException:  # noqa: BLE001 - the CancelledError itself, or whatever cleanup raised
        return
    try:
        steps.close()
    except RuntimeError:  # "coroutine ignored GeneratorExit": it is left to the garbage collector
        pass


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
        # Per selection, what executes each field: (response key, starter, may it wait).
        self.selections: dict[Selection, list[tuple[str, Callable[[Any, dict[str, Any], _Pos | None], None], bool]]] = {}
        self.infos: dict[Field, Any] = {}
        self.pending: list[_Waiting] = []  # awaitables started, not stepped yet
        self.started = 0  # how many awaitables were set aside, or objects joined to a batch
        # The batches objects may still join: of one field, or of a selection's batched fields.
        self.batches: dict[Field | Selection, _Batch] = {}
        self.nulled = False  # whether an error nulled a position (then work below it is skipped)
        # While awaitables are stepped: the errors to record at the end of the round, with
        # the number of task positions each propagated past (see _fail).
        self.propagating: list[tuple[int, GraphQLError, _Pos | None]] | None = None
        # The positions graphql-core gives a Task of their own, by id(container): the keys
        # of the awaitable fields of an object with two or more, the indexes of the
        # awaitable items of a list with two or more (it gathers them). An error that
        # propagates past one reaches the parent loop turns later (see _fail).
        self.tasks: dict[int, list[str | int]] = {}

    async def execute(self, plan: Selection) -> ExecutionResult:
        token = uncancelled_waits.set(True)
        try:
            self._object(plan, self.executor.root_value, self.data, None)  # type: ignore[arg-type]
            if self.pending:
                await self._drive()
        finally:
            uncancelled_waits.reset(token)
            # The starters are closures over this run: a reference cycle that would keep
            # the whole request (loaders, rows, objects) for the garbage collector.
            self.selections.clear()
        return self.executor.build_response(self.data)

    def _object(self, selection: Selection, source: Any, out: dict[str, Any], pos: _Pos | None) -> None:
        """Execute the fields of one object, in order."""
        if self.nulled and self.errors.has_nulled_position(pos):
            return  # below a position already nulled: graphql-core would have cancelled it
        if selection.batched and (filled := _generated(selection.prefill, source)) is not None:
            # Leaves at once, and the object joins the batches of all the other fields.
            out.update(filled)
            batch = self.batches.get(selection) or self._open_batches(selection, selection.batched)
            batch.sources.append(source)
            batch.outs.append(out)
            batch.positions.append(pos)
            self.started += 1
            if len(selection.batched_keys) > 1:
                self.tasks[id(out)] = selection.batched_keys  # type: ignore[assignment]
            return
        starts = self.selections.get(selection)
        if starts is None:
            starts = self.selections[selection] = [(f.key, self._starter(f, pos), f.may_wait) for f in selection.fields]
        awaiting = None
        for key, start, may_wait in starts:
            if may_wait:
                started = self.started
                start(source, out, pos)
                if self.started > started:
                    if awaiting is None:
                        awaiting = [key]
                    else:
                        awaiting.append(key)
            else:
                start(source, out, pos)
        if awaiting is not None and len(awaiting) > 1:
            self.tasks[id(out)] = awaiting

    def _starter(self, field: Field, pos: _Pos | None) -> Callable[[Any, dict[str, Any], _Pos | None], None]:
        """What executes `field` on one object. The work that is the same for every object
        (resolve info, arguments, Strawberry's Info) is done here, once per operation."""
        completion = field.completion
        key = field.key
        complete, field_error = self._complete, self._field_error
        getter = field.getter
        if getter is not None:
            verbatim = completion.verbatim if isinstance(completion, Leaf) else None

            def read(source: Any, out: dict[str, Any], pos: _Pos | None) -> None:
                try:
                    value = getter(source)
                except Exception as error:
                    field_error(error, field, out, pos)
                    return
                if type(value) is verbatim:
                    out[key] = value
                else:
                    complete(field, value, out, pos)

            return read

        if field.batch is not None:
            return self._batch_starter(field)
        executor = self.executor
        info = self._info(field, pos)
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

        except Exception as failed:  # the same error on every object, as graphql-core raises it on each
            refused = failed
            return lambda _source, out, pos: field_error(refused, field, out, pos)

        is_awaitable = executor.is_awaitable

        def start(source: Any, out: dict[str, Any], pos: _Pos | None) -> None:
            try:
                result = call(source)
            except Exception as error:
                field_error(error, field, out, pos)
                return
            if is_awaitable(result):
                out[key] = None  # holds the key's place in the dict's order
                self.pending.append(_Waiting(_steps(result), field, out, pos))
                self.started += 1
            else:
                complete(field, result, out, pos)

        return start

    def _batch_starter(self, field: Field) -> Callable[[Any, dict[str, Any], _Pos | None], None]:
        """What executes a field with a batch form on one object: the object joins the
        field's open batch (the first one opens it)."""
        key, batches = field.key, self.batches

        def join(source: Any, out: dict[str, Any], pos: _Pos | None) -> None:
            batch = batches.get(field) or self._open_batches(field, (field,))
            batch.sources.append(source)
            batch.outs.append(out)
            batch.positions.append(pos)
            out[key] = None  # holds the key's place in the dict's order
            self.started += 1

        return join

    def _open_batches(self, owner: Field | Selection, fields: tuple[Field, ...]) -> _Batch:
        """New batches of `fields`, which objects join together (they share the lists),
        set aside like awaitables in field order; open (`batches[owner]`) until stepped."""
        sources: list[Any] = []
        outs: list[dict[str, Any]] = []
        positions: list[_Pos | None] = []
        for field in fields:
            batch = _Batch(field, sources, outs, positions)
            self.pending.append(_Waiting(self._run_batch(batch), field, batch, None))
        self.batches[owner] = batch
        return batch

    async def _run_batch(self, batch: _Batch) -> Any:
        return await batch.field.batch(self.executor.context_value, batch.sources)  # type: ignore[misc]

    def _info(self, field: Field, pos: _Pos | None) -> Any:
        """The resolve info of `field`: graphql-core's for the first object it is executed
        on (only the path differs between objects, and no resolver here reads the path)."""
        info = self.infos.get(field)
        if info is None:
            path = Path(None if pos is None else pos.as_path(), field.key, field.parent_type.name)
            info = self.infos[field] = self.executor.build_resolve_info(
                field.definition, field.nodes, field.parent_type, path
            )
        return info

    @staticmethod
    def _direct_call(direct: Direct, info: Any, args: dict[str, Any]) -> Callable[[Any], Any]:
        """`source -> resolver result` as Strawberry's resolver wrapper computes it
        (strawberry.schema.schema_converter.get_arguments), with the Info and the
        converted arguments made once."""
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

    def _complete(self, field: Field, value: Any, out: dict[str, Any], pos: _Pos | None) -> None:
        """graphql-core's complete_value of `field` of the object at `pos`, into out[key]."""
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
            elif isinstance(completion, ListOf):
                self._list(field, completion, value, out, pos)
            elif type(completion) is Object and completion.build and (built := _generated(completion.build, value)):
                out[key] = built
            else:
                selection = completion.selection if type(completion) is Object else self._selection(field, completion, value)
                child: dict[str, Any] = {}
                out[key] = child
                self._object(selection, value, child, _Pos(pos, key, field.parent_type.name, out, completion.non_null))
        except Exception as error:
            self._field_error(error, field, out, pos)

    def _list(self, field: Field, completion: ListOf, value: Any, out: dict[str, Any], pos: _Pos | None) -> None:
        if self.executor.is_async_iterable(value):
            raise TypeError("compiled execution does not complete async iterables")  # no resolver returns one
        if not is_iterable(value):
            raise GraphQLError(
                f"Expected Iterable, but did not find one for field '{field.parent_type.name}.{field.name}'."
            )
        key = field.key
        result: list[Any] = []
        out[key] = result  # before the items: an item's error may null this list again
        here = _Pos(pos, key, field.parent_type.name, out, completion.non_null)
        item = completion.item
        verbatim = item.verbatim if isinstance(item, Leaf) else None
        is_awaitable = self.executor.is_awaitable
        pending = self.pending
        awaiting = []
        for index, element in enumerate(value):
            if type(element) is verbatim:
                result.append(element)
                continue
            result.append(None)  # the item's place
            started = self.started
            if is_awaitable(element):  # e.g. `_entities`: one resolve_reference per representation
                pending.append(_Waiting(_steps(element), field, result, here, index))
                self.started += 1
            else:
                self._complete_item(field, element, result, index, here)
            if self.started > started:
                awaiting.append(index)
        if len(awaiting) > 1:
            self.tasks[id(result)] = awaiting

    def _complete_item(self, field: Field, element: Any, result: list[Any], index: int, here: _Pos) -> None:
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
            elif type(item) is Object and item.build and (built := _generated(item.build, element)):
                result[index] = built
            else:
                selection = item.selection if type(item) is Object else self._selection(field, item, element)
                child: dict[str, Any] = {}
                result[index] = child
                self._object(selection, element, child, _Pos(here, index, None, result, item.non_null))
        except Exception as error:
            self._item_error(error, field, result, index, here)

    def _selection(self, field: Field, completion: Object | Abstract, value: Any) -> Selection:
        """The selection of an object value; for an abstract type, of its runtime type
        (graphql-core's resolve_type and its checks of the answer, with its errors)."""
        if isinstance(completion, Object):
            return completion.selection
        executor = self.executor
        info = self._info(field, None)
        resolve_type = completion.type.resolve_type or executor.type_resolver
        name = resolve_type(value, info, completion.type)
        if executor.is_awaitable(name):
            close = getattr(name, "close", None)
            if close is not None:
                close()  # a coroutine never awaited would warn
            raise TypeError("compiled execution does not await resolve_type")  # Strawberry's is synchronous
        runtime = executor.ensure_valid_runtime_type(name, completion.type, field.details, info, value)
        return completion.selections[runtime.name]

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
        """graphql-core's handle_field_error plus the propagation of non-null errors: the
        nearest nullable position at or above `at` becomes null (the root: no data).

        While awaitables are stepped, an error that propagates past a position graphql-core
        runs as a Task of its own is recorded at the end of the round (the more such
        positions, the later): in graphql-core it reaches the parent task loop turns later,
        and the tasks that run in the same turn record their own errors first."""
        target, crossed, tasks = at, 0, self.tasks
        while target is not None and target.non_null:
            if target.key in tasks.get(id(target.container), ()):
                crossed += 1
            target = target.prev
        if crossed and self.propagating is not None:
            self.propagating.append((crossed, error, target))
        else:
            self._null(error, target)

    def _null(self, error: GraphQLError, target: _Pos | None) -> None:
        if target is None:
            self.data = None
        else:
            target.container[target.key] = None
        self.nulled = True
        self.errors.add(error, target)

    # --- driving the awaitables -----------------------------------------------------------

    async def _drive(self) -> None:
        """Run the pending awaitables together, each step in the order they were started
        (as a Task per awaitable would): new ones take their first step, and whenever all
        are blocked, wait until what one of them waits on is done."""
        blocked: list[tuple[_Waiting, Any]] = []
        try:
            while True:
                if self.pending:
                    fresh, self.pending = self.pending, []
                    self.batches.clear()  # closed: what completes from now on opens new ones
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
            # Left over only when this task is cancelled (e.g. the execution timeout):
            # cancel them as graphql-core's tasks would be.
            for entry in [*(entry for entry, _future in blocked), *self.pending]:
                _cancel(entry.steps)
            self.pending = []

    def _round(self, entries: list[tuple[_Waiting, Any]], blocked: list[tuple[_Waiting, Any]]) -> None:
        self.propagating = propagating = []
        try:
            for entry, _future in entries:
                self._step(entry, blocked)
        finally:
            self.propagating = None
        for _crossed, error, target in sorted(propagating, key=lambda deferred: deferred[0]):
            self._null(error, target)

    def _step(self, entry: _Waiting, blocked: list[tuple[_Waiting, Any]]) -> None:
        try:
            yielded = entry.steps.send(None)
        except StopIteration as done:
            self._settle(entry, done.value, None)
            return
        except Exception as error:
            self._settle(entry, None, error)
            return
        if yielded is not None:
            if getattr(yielded, "_asyncio_future_blocking", None) is None:
                raise RuntimeError(f"compiled execution: a resolver yielded {yielded!r}, not a future")
            yielded._asyncio_future_blocking = False  # what a Task does with the future it waits on
        blocked.append((entry, yielded))

    def _settle(self, entry: _Waiting, value: Any, error: Exception | None) -> None:
        """Complete an awaitable's value (or error) where it goes. Below a position that
        was nulled meanwhile it goes nowhere: graphql-core would have cancelled it (here it
        ran to its end: a coroutine closed while it awaits may not clean up)."""
        if type(entry.out) is _Batch:
            self._settle_batch(entry.out, value, error)
            return
        if self.nulled and self.errors.has_nulled_position(entry.pos):
            return
        if entry.index is None:
            if error is None:
                self._complete(entry.field, value, entry.out, entry.pos)
            else:
                self._field_error(error, entry.field, entry.out, entry.pos)
        elif error is None:
            self._complete_item(entry.field, value, entry.out, entry.index, entry.pos)  # type: ignore[arg-type]
        else:
            self._item_error(error, entry.field, entry.out, entry.index, entry.pos)  # type: ignore[arg-type]

    def _settle_batch(self, batch: _Batch, values: Any, error: Exception | None) -> None:
        """Complete each object's value of a batch (or the batch form's error) in order,
        as the objects' own resolvers would have been, one after the other."""
        field = batch.field
        if error is None and (not isinstance(values, list) or len(values) != len(batch.sources)):
            error = TypeError(f"the batch form of {field.parent_type.name}.{field.name} gave no value per object")
        completion = field.completion
        if error is None and type(completion) is Object and completion.build is not None:
            self._settle_flat_batch(batch, values, completion)
            return
        for index, (out, pos) in enumerate(zip(batch.outs, batch.positions)):
            if self.nulled and self.errors.has_nulled_position(pos):
                continue
            if error is None:
                self._complete(field, values[index], out, pos)
            else:
                self._field_error(error, field, out, pos)

    def _settle_flat_batch(self, batch: _Batch, values: list[Any], completion: Object) -> None:
        """`_settle_batch` of a field whose objects are flat (generated code builds them):
        an object's dict is made once and kept with the plan (`Object.built`), and every
        place it goes gets that dict (the same venue for all its fixtures, and for the next
        request's). A flat dict is never changed afterwards: no position lies inside it.
        Anything else completes the general way."""
        key, build, built = batch.field.key, completion.build, completion.built
        for out, pos, value in zip(batch.outs, batch.positions, values):
            if self.nulled and self.errors.has_nulled_position(pos):
                continue
            known = built.get(id(value))
            if known is not None and known[0] is value:
                out[key] = known[1]
                continue
            made = None if value is None or isinstance(value, Exception) else _generated(build, value)
            if made is None:
                self._complete(batch.field, value, out, pos)
                continue
            if len(built) >= _BUILT_KEPT:
                built.clear()
            built[id(value)] = (value, made)  # the value is kept with it: its id is not reused meanwhile
            out[key] = made
