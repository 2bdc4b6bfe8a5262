"""The public value classes are Python facades, and every value Rust hands back is one."""

from __future__ import annotations

import ast
import copy
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import minide
import minide.replication as mr
import pytest
from minide import _core
from minide.errors import InvalidArgumentError

VALUE_CLASSES: dict[str, Any] = {
    "VectorClock": mr.VectorClock,
    "Object": mr.Object,
    "GCounter": mr.GCounter,
    "PNCounter": mr.PNCounter,
    "ORSet": mr.ORSet,
    "LWWRegister": mr.LWWRegister,
    "MerkleTree": mr.MerkleTree,
}


def _clock(**entries: int) -> mr.VectorClock:
    return mr.VectorClock(entries)


def _obj() -> mr.Object:
    o, _ = mr.Object().update("a", mr.VectorClock(), b"x", ts=1)
    return o


def _gc() -> mr.GCounter:
    g = mr.GCounter()
    g.increment("a", 2)
    return g


def _pn() -> mr.PNCounter:
    p = mr.PNCounter()
    p.increment("a", 3)
    p.decrement("b")
    return p


def _orset() -> mr.ORSet:
    s = mr.ORSet()
    s.add("a", "x")
    return s


def _lww() -> mr.LWWRegister:
    r = mr.LWWRegister()
    r.set(b"v", 5, "a")
    return r


def _crdt_ops(make: Callable[[], Any]) -> dict[str, Callable[[], Any]]:
    return {"merge": lambda: make().merge(make()), "copy": lambda: make().copy()}


def _roundtrips(name: str, make: Callable[[], Any]) -> dict[str, Callable[[], Any]]:
    """The ways every serializable value comes back: bytes (on the facade and on `_core`),
    pickle, copy, deepcopy."""
    cls, base = VALUE_CLASSES[name], getattr(_core, "Replication" + name)
    return {
        "from_bytes": lambda: cls.from_bytes(make().to_bytes()),
        "_core from_bytes": lambda: base.from_bytes(make().to_bytes()),
        "pickle": lambda: pickle.loads(pickle.dumps(make())),
        "copy.copy": lambda: copy.copy(make()),
        "copy.deepcopy": lambda: copy.deepcopy(make()),
    }


# (class name, method) -> (what it returns, a call producing it). Every method whose stub says it
# returns a facade class must be here (test_every_value_returning_method_is_covered).
RETURNS: dict[tuple[str, str], tuple[type, Callable[[], Any]]] = {
    ("VectorClock", "__new__"): (mr.VectorClock, lambda: _clock(a=1)),
    ("VectorClock", "merge"): (mr.VectorClock, lambda: _clock(a=1).merge(_clock(b=2))),
    ("VectorClock", "increment"): (mr.VectorClock, lambda: _clock(a=1).increment("a")),
    ("Object", "__new__"): (mr.Object, mr.Object),
    ("Object", "update"): (mr.Object, _obj),
    ("Object", "sync"): (mr.Object, lambda: _obj().sync(mr.Object())),
    ("Object", "context"): (mr.VectorClock, lambda: _obj().context),
    ("ORSet", "context"): (mr.VectorClock, lambda: _orset().context),
    ("MerkleTree", "__new__"): (mr.MerkleTree, lambda: mr.MerkleTree(2)),
}
for _name, _make in [
    ("VectorClock", lambda: _clock(a=1, b=2)),
    ("Object", _obj),
    ("GCounter", _gc),
    ("PNCounter", _pn),
    ("ORSet", _orset),
    ("LWWRegister", _lww),
]:
    _cls = VALUE_CLASSES[_name]
    RETURNS[(_name, "__new__")] = (_cls, _cls)
    _ops = _roundtrips(_name, _make)
    if _name not in ("VectorClock", "Object"):  # the CRDTs
        _ops |= _crdt_ops(_make)
    for _how, _call in _ops.items():
        RETURNS[(_name, _how)] = (_cls, _call)


def test_value_classes_are_defined_in_python_in_minide_replication() -> None:
    core_classes = [v for v in vars(_core).values() if isinstance(v, type)]
    for name, cls in VALUE_CLASSES.items():
        assert cls.__name__ == cls.__qualname__ == name
        assert cls.__module__ == "minide.replication"
        assert getattr(mr, name) is cls and name in mr.__all__
        assert not any(cls is c for c in core_classes), f"{name} is a _core class"
        # defined by a `class` statement: a Python subclass of the Rust class adding no layout
        base = cls.__mro__[1]
        assert base.__module__ == "minide._core" and base.__name__ == "Replication" + name
        assert vars(cls)["__slots__"] == ()
        assert cls.__doc__ and cls.__doc__ != base.__doc__


def test_every_public_class_is_python_not_core() -> None:
    core_classes = [v for v in vars(_core).values() if isinstance(v, type)]
    public = [getattr(mr, n) for n in mr.__all__]
    classes = [c for c in public if isinstance(c, type)]
    assert len(classes) >= 15
    for cls in classes:
        assert cls.__module__.startswith("minide.replication"), cls
        assert not any(cls is c for c in core_classes), cls


@pytest.mark.parametrize(("key"), list(RETURNS), ids=lambda k: ".".join(k))
def test_methods_return_the_facade(key: tuple[str, str]) -> None:
    expected, call = RETURNS[key]
    assert type(call()) is expected


def test_every_value_returning_method_is_covered() -> None:
    """Every method the stub says returns a facade class is in RETURNS."""
    stub = Path(minide.__file__).with_name("_core.pyi")
    facades = {"_" + n for n in VALUE_CLASSES}
    declared = set()
    for node in ast.parse(stub.read_text()).body:
        if isinstance(node, ast.ClassDef) and node.name.startswith("Replication"):
            for fn in node.body:
                if isinstance(fn, ast.FunctionDef) and fn.returns is not None:
                    names = {n.id for n in ast.walk(fn.returns) if isinstance(n, ast.Name)}
                    if names & facades:
                        declared.add((node.name.removeprefix("Replication"), fn.name))
    assert len(declared) >= 20
    covered = {(c, m.removeprefix("_core ")) for c, m in RETURNS}
    assert declared - covered == set()


def test_values_keep_equality_hash_repr_and_state() -> None:
    a = _clock(a=2, b=1)
    raw = _core.ReplicationVectorClock({"a": 2, "b": 1})
    assert a == raw and hash(a) == hash(raw) and a.merge(raw) == a
    assert repr(a.merge(raw)) == 'VectorClock({"a": 2, "b": 1})'
    assert pickle.loads(pickle.dumps(a)) == a
    o = _obj()
    assert pickle.loads(pickle.dumps(o)) == o and hash(copy.copy(o)) == hash(o)
    for make in (_gc, _pn, _orset, _lww):
        v = make()
        back = pickle.loads(pickle.dumps(v))
        assert back == v and back is not v and repr(back) == repr(v)
    g = _gc()
    g2 = copy.copy(g)
    g2.increment("a")  # a real copy: the original is unchanged
    assert (g.value, g2.value) == (2, 3)


def test_facade_methods_are_the_rust_methods_bound_to_the_facade() -> None:
    """Calls cost no Python frame, and CPython specializes them on facade instances."""
    for cls in VALUE_CLASSES.values():
        base = cls.__mro__[1]
        for name, attr in vars(base).items():
            if type(attr).__name__ == "method_descriptor":
                own = vars(cls)[name]
                assert type(own) is type(attr) and own.__objclass__ is cls, (cls, name)
                assert own.__doc__ == attr.__doc__


def _register_in_fresh_process(code: str) -> subprocess.CompletedProcess[str]:
    prelude = (
        "from minide import _core\n"
        "from minide.errors import InvalidArgumentError\n"
        "C = _core\n"
        "rest = [C.ReplicationObject, C.ReplicationGCounter, C.ReplicationPNCounter,"
        " C.ReplicationORSet, C.ReplicationLWWRegister, C.ReplicationMerkleTree]\n"
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("facade", "message"),
    [
        ("class F(C.ReplicationVectorClock): pass", "__slots__ = ()"),  # has a __dict__
        ("class F(C.ReplicationVectorClock): __slots__ = ('x',)", "__slots__ = ()"),
        ("class F(C.ReplicationObject): __slots__ = ()", "must be a subclass"),
        ("F = C.ReplicationVectorClock", "must be a subclass"),
    ],
)
def test_a_facade_that_cannot_stand_for_the_class_is_refused(facade: str, message: str) -> None:
    out = _register_in_fresh_process(
        f"{facade}\n"
        "try:\n"
        "    C.replication_register_facades(F, *rest)\n"
        "except InvalidArgumentError as e:\n"
        "    print('refused:', e)\n"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("refused:") and message in out.stdout, out.stdout


def test_a_second_facade_is_refused_the_same_one_accepted() -> None:
    facades = [mr.VectorClock, mr.Object, mr.GCounter, mr.PNCounter, mr.ORSet, mr.LWWRegister]
    facades.append(mr.MerkleTree)
    _core.replication_register_facades(*facades)  # again: a no-op
    assert type(_clock(a=1).merge(_clock())) is mr.VectorClock

    class Other(_core.ReplicationVectorClock):
        __slots__ = ()

    with pytest.raises(InvalidArgumentError, match="already has the facade"):
        _core.replication_register_facades(Other, *facades[1:])
    assert type(_clock(a=1).merge(_clock())) is mr.VectorClock
