from __future__ import annotations

import inspect

import monoloop.errors as errors


def all_errors() -> list[type[errors.MonoloopError]]:
    return [
        obj
        for obj in vars(errors).values()
        if inspect.isclass(obj) and issubclass(obj, errors.MonoloopError)
    ]


def test_user_errors_exit_2_and_are_4xx() -> None:
    for cls in all_errors():
        if issubclass(cls, errors.UserError):
            assert cls.exit_code == 2, cls
            assert 400 <= cls.http_status < 600, cls
            if cls is not errors.ConnectionFailed:
                assert cls.http_status < 500, cls


def test_integrity_errors_exit_1() -> None:
    for cls in all_errors():
        if issubclass(cls, errors.IntegrityError):
            assert cls.exit_code == 1


def test_every_error_is_drawn_in_the_module_tree() -> None:
    doc = errors.__doc__ or ""
    for cls in all_errors():
        assert cls.__name__ in doc, f"{cls.__name__} missing from the tree in errors.py"


def test_to_dict_carries_message_and_hint() -> None:
    error = errors.NotFound("no such thing", hint="look elsewhere")
    assert error.to_dict() == {
        "error": "NotFound",
        "message": "no such thing",
        "hint": "look elsewhere",
    }
