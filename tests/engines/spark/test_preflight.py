"""The Spark engine's preflight: no Java, a dead master, and failed jobs that quote rows."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from minimizer.engines.spark import preflight
from minimizer.engines.spark.preflight import (
    JAVA_PACKAGE,
    check_master,
    job_failure,
    require_java,
)
from minimizer.errors import (
    DataError,
    GuaranteeError,
    MinimizerError,
    PolicyError,
    Reason,
    SourceError,
)
from tests.conftest import TEST_MASTER_B64

IBAN = "DE89370400440532013000"
EMAIL = "erika.mustermann@example.de"


# -- no Java ------------------------------------------------------------------------------------
def _no_java_anywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(empty))


def _fake_java(tmp_path: Path, banner: str) -> Path:
    """A JAVA_HOME whose bin/java prints ``banner`` the way `java -version` does (to stderr)."""
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho '{banner}' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return home


def test_no_java_on_path_says_so_in_one_line_and_names_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_java_anywhere(monkeypatch, tmp_path)
    with pytest.raises(DataError) as info:
        require_java()
    said = str(info.value)
    assert "\n" not in said
    assert JAVA_PACKAGE in said and "apt-get install" in said
    assert "Java 17" in said and "PATH" in said
    assert info.value.reason is Reason.JAVA_MISSING
    assert info.value.exit_code == 2 and not info.value.transient


def test_java_home_without_java_is_missing_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Spark's launcher takes $JAVA_HOME/bin/java when JAVA_HOME is set, even if PATH has one.
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="JAVA_HOME=") as info:
        require_java()
    assert "\n" not in str(info.value) and JAVA_PACKAGE in str(info.value)


@pytest.mark.parametrize(
    ("banner", "found"),
    [('java version "1.8.0_392"', "Java 8"), ('openjdk version "11.0.21" 2023-10-17', "Java 11")],
)
def test_too_old_java_names_its_version_and_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, banner: str, found: str
) -> None:
    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path, banner)))
    with pytest.raises(DataError, match=found) as info:
        require_java()
    assert "\n" not in str(info.value) and JAVA_PACKAGE in str(info.value)


@pytest.mark.parametrize("banner", ['openjdk version "17.0.15" 2025-04-15', 'openjdk version "21"'])
def test_java_17_and_newer_pass(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, banner: str
) -> None:
    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path, banner)))
    require_java()


def test_the_java_on_this_machine_passes() -> None:
    from tests.engines.spark._java import require_spark_runtime

    require_spark_runtime()  # in CI, no Java fails here rather than skipping
    require_java()


def test_the_ci_fixture_fails_rather_than_skips_without_java(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.engines.spark import _java

    _no_java_anywhere(monkeypatch, tmp_path)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=JAVA_PACKAGE):
        _java.require_spark_runtime()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        _java.require_spark_runtime()


# -- the master ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url", [None, "local", "local[2]", "local[*]", "local[2,3]", "local-cluster[2,1,1024]", "yarn"]
)
def test_local_and_yarn_masters_pass_without_a_connection(url: str | None) -> None:
    check_master(url)


def test_an_unreachable_master_fails_fast_with_exit_2() -> None:
    started = time.monotonic()
    with pytest.raises(SourceError) as info:
        check_master("spark://127.0.0.1:1")
    assert time.monotonic() - started < 5
    said = str(info.value)
    assert "spark://127.0.0.1:1" in said and "cannot be reached" in said
    assert info.value.exit_code == 2 and info.value.reason is Reason.UNREACHABLE


def test_a_silent_master_times_out_instead_of_hanging(monkeypatch: pytest.MonkeyPatch) -> None:
    # A firewalled master never answers; the connect is bounded by the short timeout (a real
    # unroutable address is no test here: a sandbox's proxy may accept every connect).
    asked: list[float] = []

    def silent(address: tuple[str, int], timeout: float) -> socket.socket:
        asked.append(timeout)
        raise TimeoutError

    monkeypatch.setattr(socket, "create_connection", silent)
    with pytest.raises(SourceError, match=r"no answer within 0\.5 s"):
        check_master("spark://master.example:7077", timeout=0.5)
    assert asked == [0.5]


@pytest.fixture
def listening() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def test_a_reachable_master_passes_and_a_standby_list_needs_one(listening: int) -> None:
    check_master(f"spark://127.0.0.1:{listening}")
    check_master(f"spark://127.0.0.1:1,127.0.0.1:{listening}")
    check_master(f"sc://127.0.0.1:{listening}/;token=abc")


def test_the_message_never_echoes_credentials() -> None:
    with pytest.raises(SourceError) as info:
        check_master("sc://admin:s3cret@127.0.0.1:1")
    assert "s3cret" not in str(info.value) and "admin" not in str(info.value)


@pytest.mark.parametrize("url", ["mesos://x:5050", "spark://", "spark://host:notaport", "local[x]"])
def test_a_malformed_master_is_a_usage_error(url: str) -> None:
    with pytest.raises(PolicyError, match="--master") as info:
        check_master(url)
    assert info.value.exit_code == 2


def test_an_unreachable_master_exits_2_through_the_cli(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from minimizer.cli import main
    from minimizer.synth import generate

    monkeypatch.setenv("MINIMIZER_MASTER_KEY", TEST_MASTER_B64)
    generate(tmp_path / "src", customers=20, days=1, seed=3)
    policy = Path(__file__).resolve().parents[3] / "configs" / "purposes" / "churn_analysis.yaml"
    warehouse = tmp_path / "wh.duckdb"
    args = ["run", str(policy), "--sources", str(tmp_path / "src"), "--warehouse", str(warehouse)]
    started = time.monotonic()
    code = main([*args, "--artifacts", str(tmp_path / "art"), "--engine", "spark",
                 "--master", "spark://127.0.0.1:1"])  # fmt: skip
    said = capfd.readouterr().err
    assert code == 2, said[-1000:]
    assert "spark://127.0.0.1:1 cannot be reached" in " ".join(said.split())
    assert time.monotonic() - started < 60  # no Spark session waited out its reconnects
    from minimizer.io.warehouse import open_warehouse

    if warehouse.exists():  # nothing was loaded
        with open_warehouse(str(warehouse)) as wh:
            assert not [t for s, t in wh.tables() if s == "churn_analysis"]


def test_no_java_exits_2_through_the_cli_in_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from minimizer.cli import main
    from minimizer.synth import generate

    monkeypatch.setenv("MINIMIZER_MASTER_KEY", TEST_MASTER_B64)
    generate(tmp_path / "src", customers=20, days=1, seed=3)
    _no_java_anywhere(monkeypatch, tmp_path)
    policy = Path(__file__).resolve().parents[3] / "configs" / "purposes" / "churn_analysis.yaml"
    args = ["run", str(policy), "--sources", str(tmp_path / "src")]
    args += ["--warehouse", str(tmp_path / "wh.duckdb"), "--artifacts", str(tmp_path / "art")]
    assert main([*args, "--engine", "spark"]) == 2
    lines = [line for line in capfd.readouterr().err.splitlines() if "java" in line.lower()]
    assert len(lines) == 1 and JAVA_PACKAGE in lines[0], lines


# -- failed jobs --------------------------------------------------------------------------------
class _FakeJavaClass:
    def __init__(self, name: str) -> None:
        self._name = name

    def getName(self) -> str:
        return self._name


class _FakeThrowable:
    """A Java throwable as Py4J shows it: class, cause, and a message that quotes a row."""

    _target_id = "o42"
    _gateway_client = None

    def __init__(self, name: str, cause: _FakeThrowable | None = None) -> None:
        self._class = _FakeJavaClass(name)
        self._cause = cause

    def getClass(self) -> _FakeJavaClass:
        return self._class

    def getCause(self) -> _FakeThrowable | None:
        return self._cause

    def getMessage(self) -> str:
        raise AssertionError("job_failure must not read the Java message")

    def toString(self) -> str:
        raise AssertionError("job_failure must not read the Java message")


def _py4j_error() -> BaseException:
    from py4j.protocol import Py4JJavaError  # type: ignore[import-untyped]

    cause = _FakeThrowable("org.apache.spark.SparkNumberFormatException")
    java = _FakeThrowable("org.apache.spark.SparkException", cause)
    error: BaseException = Py4JJavaError(
        f"An error occurred while calling o42.collect: {IBAN} {EMAIL}", java
    )
    return error


def _python_exception(worker_tail: str) -> BaseException:
    """pyspark's PythonException as the driver sees it, without a JVM behind it."""
    from pyspark.errors.exceptions.captured import PythonException

    exc = PythonException.__new__(PythonException)
    exc._desc = (
        "An exception was thrown from the Python worker. Please see the stack trace below.\n"
        "Traceback (most recent call last):\n"
        '  File "/work/main/minimizer/transforms/x.py", line 3, in kernel\n'
        f"    raise ValueError(value)\n{worker_tail}"
    )
    exc._stackTrace = f"org.apache.spark.api.python.PythonException: {IBAN}"
    exc._origin = None
    exc._cause = None
    exc.args = (exc._desc,)
    return exc


def _assert_quotes_nothing(err: MinimizerError) -> None:
    said = str(err) + repr(err) + repr(err.__dict__)
    for value in (IBAN, EMAIL, "370400440532013000", "mustermann", "example.de", "o42"):
        assert value not in said
    assert "\n" not in str(err)


def test_a_py4j_error_is_summarised_by_class_names_only() -> None:
    err = job_failure(_py4j_error())
    _assert_quotes_nothing(err)
    said = str(err)
    assert "Py4JJavaError" in said
    assert "org.apache.spark.SparkException" in said
    assert "org.apache.spark.SparkNumberFormatException" in said
    assert isinstance(err, DataError) and err.reason is Reason.JOB_FAILED
    assert err.exit_code == 2


def test_a_python_worker_error_names_the_worker_exception_not_its_text() -> None:
    err = job_failure(_python_exception(f"ValueError: bad IBAN {IBAN} of {EMAIL}\n"))
    _assert_quotes_nothing(err)
    assert "PythonException" in str(err) and "ValueError" in str(err)


def test_a_row_shaped_like_a_class_name_is_not_believed() -> None:
    # A value with a newline can fake a traceback line; only real classes are named.
    tail = f"ValueError: x\nMustermannIbanDE89Error: {IBAN}\nmustermann.example.Error\n"
    err = job_failure(_python_exception(tail))
    _assert_quotes_nothing(err)
    assert "MustermannIbanDE89Error" not in str(err)


def test_a_minimizer_error_inside_map_in_arrow_keeps_its_class_and_reason() -> None:
    # A guarantee that fails inside a partition exits 3, as it would on one machine.
    tail = (
        "minimizer.errors.GuaranteeError: k-anonymity cannot be reached "
        "[table=customers, reason=k_unreachable, count=3]\n"
    )
    err = job_failure(_python_exception(tail))
    assert isinstance(err, GuaranteeError) and err.exit_code == 3
    assert err.reason is Reason.K_UNREACHABLE
    _assert_quotes_nothing(err)


def test_the_chain_is_walked_and_a_minimizer_error_passes_through() -> None:
    own = SourceError("a source is missing", reason=Reason.MISSING_SOURCE)
    assert job_failure(own) is own
    try:
        try:
            raise _py4j_error()
        except Exception as inner:
            raise RuntimeError(f"wrapped: {EMAIL}") from inner
    except RuntimeError as outer:
        err = job_failure(outer)
    _assert_quotes_nothing(err)
    assert "RuntimeError" in str(err) and "org.apache.spark.SparkException" in str(err)


def test_a_dead_gateway_still_gives_a_summary() -> None:
    class _Dead:
        def getClass(self) -> object:
            raise ConnectionError(f"gateway gone {EMAIL}")

    exc = RuntimeError(IBAN)
    exc.java_exception = _Dead()  # type: ignore[attr-defined]
    err = job_failure(exc)
    _assert_quotes_nothing(err)
    assert "RuntimeError" in str(err)


def test_the_error_pickles_for_airflow() -> None:
    import pickle

    err = job_failure(_py4j_error())
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == str(err) and back.reason is Reason.JOB_FAILED


def test_preflight_imports_neither_pyspark_nor_py4j() -> None:
    code = (
        "import sys, minimizer.engines.spark.preflight; "
        "assert 'pyspark' not in sys.modules and 'py4j' not in sys.modules"
    )

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, env=dict(os.environ))
    assert done.returncode == 0, done.stderr.decode()[-500:]
    assert preflight.MIN_JAVA == 17


# -- a real job that fails on a row: the error and the logs name no value -----------------------
_FAILING_JOBS = """
import os, sys, tempfile
from pathlib import Path
os.environ["PYSPARK_PYTHON"] = sys.executable
from minimizer.engines.spark.preflight import LOG4J_NO_VALUES, job_failure, quiet_value_logs
log4j = Path(sys.argv[1])
log4j.write_text(LOG4J_NO_VALUES)
from pyspark.sql import SparkSession
opt = f"-Dlog4j2.configurationFile=file:{log4j}"
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.driver.extraJavaOptions", opt)
         .config("spark.executor.extraJavaOptions", opt).getOrCreate())
quiet_value_logs()
df = spark.createDataFrame([(sys.argv[2],)], ["iban"])
def boom(batches):
    for batch in batches:
        raise ValueError("bad iban " + batch.column(0)[0].as_py())
        yield batch
jobs = {
    "map_in_arrow": lambda: df.mapInArrow(boom, df.schema).collect(),
    "write": lambda: df.mapInArrow(boom, df.schema).write.parquet(sys.argv[3]),
    "cast": lambda: spark.sql(f"select cast('{sys.argv[2]}' as int)").collect(),
}
for name, job in jobs.items():
    try:
        job()
    except Exception as exc:
        print(name, "->", job_failure(exc), flush=True)
"""


def test_a_job_that_fails_on_a_row_quotes_it_nowhere(tmp_path: Path) -> None:
    # The engine's session takes LOG4J_NO_VALUES and quiet_value_logs(); Spark's defaults
    # would print the worker's traceback, row and all, in the Executor's ERROR line.
    from tests.engines.spark._java import require_spark_runtime

    require_spark_runtime()
    script = tmp_path / "jobs.py"
    script.write_text(_FAILING_JOBS)
    args = [sys.executable, str(script), str(tmp_path / "log4j2.properties"), IBAN]
    done = subprocess.run(
        [*args, str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said[-2000:]
    assert "map_in_arrow -> the Spark job failed:" in done.stdout
    assert "ValueError" in done.stdout and "CAST_INVALID_INPUT" in done.stdout
    assert "write -> " in done.stdout
    assert IBAN not in said and IBAN[4:] not in said
