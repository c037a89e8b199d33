"""Stand-ins for dbt's cross-database macros, for sqlfluff's jinja templater only.

sqlfluff lints the models with plain Jinja (no dbt connection); these render each macro to
simple DuckDB-flavoured SQL of the same shape so the surrounding SQL can be parsed and linted.
"""


def concat(fields):
    return " || ".join(fields)


def type_string():
    return "varchar"


def type_timestamp():
    return "timestamp"


def type_bigint():
    return "bigint"


def type_numeric():
    return "numeric"


def safe_cast(field, type_):
    return f"try_cast({field} as {type_})"


def hash(field):  # noqa: A001 - mirrors dbt.hash
    return f"md5({field})"


def dateadd(datepart, interval, from_date_or_timestamp):
    return f"{from_date_or_timestamp} + interval {interval} {datepart}"


def date_trunc(datepart, date):
    return f"date_trunc('{datepart}', {date})"


def listagg(measure, delimiter_text="','", order_by_clause=None, limit_num=None):
    return f"string_agg({measure}, {delimiter_text})"


def replace(field, old_chars, new_chars):
    return f"replace({field}, {old_chars}, {new_chars})"


def position(substring_text, string_text):
    return f"position({substring_text} in {string_text})"
