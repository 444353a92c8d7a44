"""What the Spark engine checks before it starts a session, and how it reports a failed job.

- :func:`require_java`: Spark 4 needs a Java 17+ JVM. Without one, pyspark dies with a page of
  shell output; here it is one line that names the Debian package to install.
- :func:`check_master`: a ``spark://`` (or Spark Connect ``sc://``) master that cannot be reached
  fails in seconds (a TCP connect with a short timeout), not after a session hangs retrying.
- :func:`job_failure`: Spark's and Py4J's task failure messages quote rows (the value that
  failed a cast, the Python worker's traceback). The error it builds names exception classes
  and Spark error conditions only, never the message text, so logs and the audit record can
  quote it. Raise it ``from None`` so the original (with its message) is not chained.

Nothing here imports pyspark or py4j: the checks run before either is loaded.
"""

from __future__ import annotations

import builtins
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from minimizer.errors import DataError, MinimizerError, PolicyError, Reason, SourceError

__all__ = [
    "JAVA_PACKAGE",
    "LOG4J_NO_VALUES",
    "MIN_JAVA",
    "check_master",
    "java_version",
    "job_failure",
    "quiet_value_logs",
    "require_java",
    "summarise",
]

MIN_JAVA = 17  # Spark 4.x runs on Java 17 and 21
JAVA_PACKAGE = "openjdk-17-jre-headless"  # Debian 12's headless Java 17 runtime
_INSTALL = f"install it with `apt-get install -y {JAVA_PACKAGE}` or set JAVA_HOME"

# `java -version` prints e.g. `openjdk version "17.0.15" 2025-04-15` or `"1.8.0_392"` (Java 8).
_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?[^"]*"')


def _java_binary() -> tuple[Path | None, str]:
    """The java that spark-submit would run, and where it was looked for.

    Spark's launcher (bin/spark-class) takes ``$JAVA_HOME/bin/java`` when JAVA_HOME is set and
    ``java`` on PATH otherwise; this looks in the same places, in the same order.
    """
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return (candidate if os.access(candidate, os.X_OK) else None), f"JAVA_HOME={home}"
    found = shutil.which("java")
    return (Path(found) if found else None), "PATH (JAVA_HOME unset)"


def java_version(java: Path) -> int | None:
    """The major version of a java binary (8 for 1.8), or None when it does not say."""
    try:
        done = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(done.stderr + done.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def require_java() -> None:
    """Fail in one line, naming the package, unless a Java 17+ JVM is where Spark looks."""
    java, where = _java_binary()
    if java is None:
        raise DataError(
            f"the Spark engine needs Java {MIN_JAVA}+ but found no java in {where}: {_INSTALL}",
            check="java",
            reason=Reason.JAVA_MISSING,
        )
    version = java_version(java)
    if version is None or version < MIN_JAVA:
        found = "an unreadable version" if version is None else f"Java {version}"
        raise DataError(
            f"the Spark engine needs Java {MIN_JAVA}+ but {java} is {found}: {_INSTALL}",
            check="java",
            reason=Reason.JAVA_MISSING,
        )


# ---------------------------------------------------------------------------------------------
# the master URL

_DEFAULT_PORTS = {"spark": 7077, "sc": 15002}
# Masters resolved by something other than a TCP address here: local threads, YARN's config.
_LOCAL = re.compile(r"local(?:\[(?:\*|\d+)(?:,\s*\d+)?\]|-cluster\[[\d\s,]+\])?")


def _bad_master(url: str, why: str) -> PolicyError:
    return PolicyError.single(
        "--master",
        f"{why}; expected local, local[N], local[*], spark://HOST:PORT, sc://HOST:PORT, "
        "yarn or k8s://https://HOST:PORT",
    )


def _addresses(url: str) -> Iterator[tuple[str, int]]:
    """The (host, port) pairs a master URL names: several for a standby-master list."""
    scheme, _, rest = url.partition("://")
    if scheme == "k8s":
        inner = urlsplit(rest)
        if not inner.hostname:
            raise _bad_master(url, "the k8s master names no API server")
        yield inner.hostname, inner.port or (443 if inner.scheme == "https" else 80)
        return
    # spark://h1:7077,h2:7077 lists standby masters; sc://host:port/;token=... has parameters.
    netloc = rest.split("/", 1)[0]
    for part in netloc.split(","):
        host = part.rsplit("@", 1)[-1]  # never echo a user:password@ part
        try:
            parsed = urlsplit(f"//{host}")
            port = parsed.port or _DEFAULT_PORTS[scheme]
        except ValueError:
            raise _bad_master(url, f"the {scheme}:// master has a bad port") from None
        if not parsed.hostname:
            raise _bad_master(url, f"the {scheme}:// master names no host")
        yield parsed.hostname, port


def check_master(url: str | None, *, timeout: float = 3.0) -> None:
    """Fail fast (exit 2) when a cluster master cannot be reached; local masters pass.

    A TCP connect with ``timeout`` seconds per address, not a Spark session: a session against
    a dead master retries for minutes before it gives up.
    """
    if url is None or _LOCAL.fullmatch(url.strip()) or url.strip() == "yarn":
        return
    url = url.strip()
    scheme = url.partition("://")[0] if "://" in url else ""
    if scheme not in ("spark", "sc", "k8s"):
        raise _bad_master(url, "the Spark master URL has an unknown form")
    tried: list[str] = []
    failures: list[str] = []
    for host, port in _addresses(url):
        tried.append(f"{host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return
        except TimeoutError:
            failures.append(f"no answer within {timeout:g} s")
        except socket.gaierror:
            failures.append("unknown host")
        except OSError as exc:
            failures.append(type(exc).__name__)
    raise SourceError(
        f"the Spark master {scheme}://{','.join(tried)} cannot be reached "
        f"({'; '.join(failures)}): is the cluster up, and is the master URL right "
        "(--master, or the spark_default connection in Airflow)?",
        check="spark master",
        reason=Reason.UNREACHABLE,
    )


# ---------------------------------------------------------------------------------------------
# failed jobs

# A log4j2 configuration (Spark's JVM, driver and executors: -Dlog4j2.configurationFile) that
# keeps rows out of Spark's own log. The loggers that report a failed task quote the Python
# worker's traceback or the failing value in their message: they are off (the run's error says
# what failed, by class). Everyone else logs at ERROR, a throwable by its class name only.
LOG4J_NO_VALUES = "\n".join(
    [
        "rootLogger.level = error",
        "rootLogger.appenderRef.stderr.ref = console",
        "appender.console.type = Console",
        "appender.console.name = console",
        "appender.console.target = SYSTEM_ERR",
        "appender.console.layout.type = PatternLayout",
        "appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m %ex{short.className}%n",
        *(
            f"logger.{key}.name = {name}\nlogger.{key}.level = off"
            for key, name in (
                ("executor", "org.apache.spark.executor.Executor"),
                ("tasks", "org.apache.spark.scheduler.TaskSetManager"),
                ("scheduler", "org.apache.spark.scheduler.TaskSchedulerImpl"),
                ("utils", "org.apache.spark.util.Utils"),
                ("writer", "org.apache.spark.sql.execution.datasources.FileFormatWriter"),
                ("python", "org.apache.spark.api.python.PythonRunner"),
            )
        ),
        "",
    ]
)
# pyspark logs a failed query's message (the value that did not cast) through these loggers
# when it builds the Python exception, before minimizer sees it.
_QUERY_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")


def quiet_value_logs() -> None:
    """Silence pyspark's own loggers that quote a failed query's message (call once, after
    importing pyspark). Spark's JVM log is kept free of values by :data:`LOG4J_NO_VALUES`."""
    import logging
    from collections.abc import Callable

    make: Callable[[str], logging.Logger]
    try:  # made as pyspark makes them, so pyspark's keyword arguments still fit
        from pyspark.logger import PySparkLogger

        make = PySparkLogger.getLogger
    except ImportError:
        make = logging.getLogger
    for name in _QUERY_LOGGERS:
        make(name).disabled = True


# A Spark error condition: TASK_WRITE_FAILED, FAILED_READ_FILE.NO_HINT, ...
_CONDITION = re.compile(r"[A-Z][A-Z0-9_]*(?:\.[A-Z0-9_]+)*")
# A line of the Python worker's traceback that names the exception: `ValueError: ...`.
_RAISED = re.compile(r"^([A-Za-z_][\w.]*)(?::|$)", re.MULTILINE)
_REASON = re.compile(r"\breason=([a-z_]+)\b")


def _known_class(name: str) -> type[BaseException] | None:
    """The exception class a traceback line names, if it really is one in this process.

    The worker's traceback is text that a row can shape (a value with a newline and
    ``EvilError:`` in it), so a name counts only when it resolves, without importing
    anything, to an exception class: a builtin, or one in an already imported module.
    """
    if "." not in name:
        found = getattr(builtins, name, None)
    else:
        module, _, attr = name.rpartition(".")
        found = getattr(sys.modules.get(module), attr, None)
    if isinstance(found, type) and issubclass(found, BaseException):
        return found
    return None


def _java_names(java: object) -> Iterator[str]:
    """Class names along a Java throwable's cause chain, over Py4J; nothing if the JVM is gone."""
    seen = 0
    while java is not None and seen < 8:
        try:
            yield str(java.getClass().getName())  # type: ignore[attr-defined]
            java = java.getCause()  # type: ignore[attr-defined]
        except Exception:  # the gateway died with the job: names stop here
            return
        seen += 1


def _condition(exc: BaseException) -> str | None:
    get = getattr(exc, "getCondition", None)
    if get is None:
        return None
    try:
        condition = get()
    except Exception:  # needs a live gateway
        return None
    return condition if isinstance(condition, str) and _CONDITION.fullmatch(condition) else None


def _worker_text(exc: BaseException) -> str:
    """The text of a captured Spark exception, read without calling its __str__ (which asks the
    JVM for its stack trace): only ever scanned for class names, never quoted."""
    desc = getattr(exc, "_desc", None)
    return desc if isinstance(desc, str) else ""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _summary(exc: BaseException) -> tuple[str, type[BaseException] | None, Reason | None]:
    """(class names and conditions, the worker's own exception class, its minimizer reason)."""
    names: list[str] = []
    conditions: list[str] = []
    worker: type[BaseException] | None = None
    reason: Reason | None = None
    for link in _chain(exc):
        names.append(type(link).__name__)
        condition = _condition(link)
        if condition:
            conditions.append(condition)
        names.extend(_java_names(getattr(link, "java_exception", None)))
        names.extend(_java_names(getattr(link, "_origin", None)))
        text = _worker_text(link)
        for raised in _RAISED.findall(text):
            known = _known_class(raised)
            if known is not None:
                names.append(raised)
                worker = known
        if worker is not None and issubclass(worker, MinimizerError):
            codes = [c for c in _REASON.findall(text) if c in Reason._value2member_map_]
            reason = Reason(codes[-1]) if codes else None
    said = " <- ".join(dict.fromkeys(names))
    if conditions:
        said += f" (condition {', '.join(dict.fromkeys(conditions))})"
    return said, worker, reason


def summarise(exc: BaseException) -> str:
    """An exception from Spark, Py4J or a JDBC driver as class names and error conditions only
    (``Py4JJavaError <- org.apache.spark.SparkException (condition ...)``): safe to log."""
    return _summary(exc)[0]


def job_failure(exc: BaseException) -> MinimizerError:
    """A failed Spark job as an error that quotes no value: class names and conditions only.

    A minimizer error raised inside ``mapInArrow`` (a guarantee not met in a partition) comes
    back as the same class and reason, so the run exits as it would on one machine.
    """
    if isinstance(exc, MinimizerError):
        return exc  # built by minimizer, which never puts values in its errors
    said, worker, reason = _summary(exc)
    message = (
        f"the Spark job failed: {said}; the message is withheld because Spark's task "
        "messages can quote rows"
    )
    if worker is not None and issubclass(worker, DataError):
        try:
            return worker(message, reason=reason) if reason else worker(message)
        except TypeError:  # a subclass whose constructor wants more than a message
            pass
    return DataError(message, check="spark job", reason=Reason.JOB_FAILED)
