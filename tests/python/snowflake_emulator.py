"""The Snowflake emulator of the warehouse tests: fakesnow in server mode, with a small shim.

Run as a script (``python snowflake_emulator.py PORT``); the test session starts it in its own
process and kills it at the end. fakesnow translates Snowflake SQL to DuckDB. Where it lacks
a function that real Snowflake has, the shim defines that function in DuckDB with Snowflake's
documented semantics, per session. Nothing here changes the SQL the project sends: the
project's Snowflake macros stay what real Snowflake runs.
"""

from __future__ import annotations

import io
import re
import signal
import sys
import threading
from typing import Any

# Snowflake functions fakesnow does not translate, defined as DuckDB macros with the
# semantics of Snowflake's documentation (each line names the Snowflake function).
SHIM_MACROS = [
    # TRY_TO_TIMESTAMP_NTZ(string): the timestamp, or null when the string does not parse
    "create or replace temp macro try_to_timestamp_ntz(x) as try_cast(x as timestamp)",
]


def _parenthesize_bitand(node: Any) -> Any:
    """BITAND(a, b) * c becomes `a & b * c` in DuckDB, where `*` binds tighter than `&`;
    Snowflake computes (a & b) * c. Keep the function call's grouping."""
    from sqlglot import exp

    if isinstance(node, exp.BitwiseAnd) and not isinstance(node.parent, exp.Paren):
        return exp.Paren(this=node)
    return node


# The one form of Snowflake Scripting block the project sends (macros/sql/idstitch_script.sql):
# statements, then optionally a RESULTSET of a last query that the block returns.
BLOCK = re.compile(r"\Aexecute immediate \$\$\nbegin\n(?P<body>.*)\nend;\n\$\$\Z", re.DOTALL)
RESULT = re.compile(
    r"\nlet idstitch_result resultset := \(\n(?P<query>.*)\n\);"
    r"\nreturn table\(idstitch_result\);\Z",
    re.DOTALL,
)


def block_statements(command: str) -> list[str] | None:
    """The statements of a block in the project's form, in order (the returned query last), or
    None when `command` is not such a block. fakesnow runs no Snowflake Scripting; the shim runs
    the block's statements one after another on the same cursor, as Snowflake's documentation
    describes a block's body, so the client's last result is the returned query's."""
    from snowflake.connector.util_text import split_statements

    # dbt adds its query comment (`/* {...} */`) to what it sends
    comments = r"(\s*/\*.*?\*/\s*)*"
    command = re.sub(rf"\A{comments}|{comments}\Z", "", command, flags=re.DOTALL)
    match = BLOCK.match(command)
    if match is None:
        return None
    body = "\n" + match.group("body")
    query = None
    result = RESULT.search(body)
    if result is not None:
        query = result.group("query")
        body = body[: result.start()]
    if body.strip() and not body.rstrip().endswith("\n;"):
        raise ValueError("a block's statement does not end with `;` on a line of its own")
    statements = [sql for sql, _ in split_statements(io.StringIO(body), remove_comments=False)]
    statements = [sql.rstrip().removesuffix(";").strip() for sql in statements]
    statements = [sql for sql in statements if sql]
    return [*statements, query] if query is not None else statements


def install_shim() -> None:
    from fakesnow import arrow, conn, cursor, transforms
    from sqlglot import exp

    # dbt-snowflake creates `temporary` tables and views under database.schema names (unit
    # tests, the staging view of an incremental merge); DuckDB keeps temporary objects in its
    # own `temp` catalog and refuses such names. A plain table or view under the same name
    # behaves the same for one dbt session.
    original_transform = cursor.FakeSnowflakeCursor._transform

    def transform(self: Any, expression: Any, params: Any) -> Any:
        if isinstance(expression, exp.Create) and expression.kind in ("TABLE", "VIEW"):
            for prop in list(expression.find_all(exp.TemporaryProperty)):
                prop.pop()
        expression = expression.transform(_parenthesize_bitand, copy=False)
        return original_transform(self, expression, params)

    cursor.FakeSnowflakeCursor._transform = transform  # type: ignore[method-assign]

    # a Snowflake Scripting block (see block_statements): its statements in order
    original_execute = cursor.FakeSnowflakeCursor.execute

    def execute(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        statements = block_statements(command) if isinstance(command, str) else None
        if statements is None:
            return original_execute(self, command, *args, **kwargs)
        for sql in statements:
            original_execute(self, sql, *args, **kwargs)
        return self

    cursor.FakeSnowflakeCursor.execute = execute  # type: ignore[method-assign]

    # fakesnow rewrites TRIM(x, characters) to TRIM(CAST(x AS VARCHAR)) and so loses the
    # characters; Snowflake's TRIM(x, characters) strips every listed character.
    def trim_cast_varchar(expression: Any) -> Any:
        if not isinstance(expression, exp.Trim):
            return expression
        operand = expression.this
        if isinstance(operand, exp.Cast) and operand.to.this in (
            exp.DataType.Type.VARCHAR,
            exp.DataType.Type.TEXT,
        ):
            return expression
        expression.set("this", exp.Cast(this=operand, to=exp.DataType.build("varchar")))
        return expression

    transforms.trim_cast_varchar = trim_cast_varchar

    # fakesnow sends timestamps as Snowflake's (epoch, fraction) structs without a null mask,
    # so a null timestamp reaches the client as 1970-01-01; keep nulls null.
    original_struct = arrow.timestamp_to_sf_struct

    def timestamp_to_sf_struct(ts: Any) -> Any:
        import pyarrow as pa

        if isinstance(ts, pa.ChunkedArray):
            ts = ts.combine_chunks()
        struct = original_struct(ts)
        if ts.null_count == 0:
            return struct
        children = [struct.field(i).fill_null(0) for i in range(struct.type.num_fields)]
        return pa.StructArray.from_arrays(children, fields=list(struct.type), mask=ts.is_null())

    arrow.timestamp_to_sf_struct = timestamp_to_sf_struct

    original_init = conn.FakeSnowflakeConnection.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        for sql in SHIM_MACROS:
            self._duck_conn.execute(sql)

    conn.FakeSnowflakeConnection.__init__ = init  # type: ignore[method-assign]


# the password of the emulator's one user (the harness's profile and client use it)
PASSWORD = "emulator"


def install_login_check() -> None:
    """fakesnow lets any password in; Snowflake answers a login with a wrong password with
    error 390100 and no session. The emulator does the same, so that a test can see what
    idstitch says about a wrong password."""
    import gzip
    import importlib
    import json

    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route, request_response

    server = importlib.import_module("fakesnow.server")  # the module; fakesnow.server is a function
    route = next(
        r for r in server.routes if isinstance(r, Route) and r.path == "/session/v1/login-request"
    )
    original = route.endpoint

    async def login(request: Request) -> Response:
        body = await request.body()  # starlette keeps it for the original endpoint
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        password = json.loads(body)["data"].get("PASSWORD")
        if password is not None and password != PASSWORD:
            return JSONResponse(
                {
                    "data": {"nextAction": "RETRY_LOGIN", "authnMethod": "USERNAME_PASSWORD"},
                    "code": "390100",
                    "message": "Incorrect username or password was specified.",
                    "success": False,
                }
            )
        response: Response = await original(request)
        return response

    route.endpoint = login
    route.app = request_response(login)


def main(port: int) -> int:
    import fakesnow

    # importing the module fakesnow.server replaces the package's function of that name
    serve = fakesnow.server
    install_shim()
    install_login_check()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with serve(port=port, host="127.0.0.1"):
        print(f"fakesnow listening on 127.0.0.1:{port}", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
