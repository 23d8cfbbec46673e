"""Static T-SQL checks: does a statement parse as T-SQL, and does it use anything SQL Server lacks?

No SQL Server is reachable where the pipeline is developed, so every statement meant for
it is checked here instead: parsed with sqlglot (``read="tsql"``) and scanned for the
constructs of other dialects that SQL Server rejects or, worse, accepts with another meaning.

sqlglot's T-SQL reader is lenient: it silently *translates* ``a::int``, ``LIMIT``, ``||``,
``true``, ``ILIKE``, ``CAST(x AS DOUBLE)`` and ``NOW()`` into T-SQL. Parsing alone therefore
proves little; the scan works on the raw token stream (so text inside string literals and
comments never counts) and on the parsed tree (nesting, window frames, boolean predicates).

Two clauses sqlglot cannot parse although they are valid T-SQL are removed before parsing
(and only then): ``OPTION (...)`` query hints (dbt-sqlserver appends them after DELETE and
MERGE) and the ``WITH (TABLOCK)`` table hint between ``INSERT INTO target`` and its column list.

``check_sql(..., fabric=True)`` adds the rules of Microsoft Fabric Warehouse (dbt-fabric,
``make check-fabric``; docs/scale.md): its smaller type system, its two collations, no
clustered or columnstore indexes, keys only NONCLUSTERED ... NOT ENFORCED, no ALTER COLUMN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

ERROR, WARN = "error", "warn"

# Function names that exist in DuckDB / Postgres but not in SQL Server (or mean something else).
FOREIGN_FUNCTIONS = {
    "now": "use GETDATE() / SYSDATETIME()",
    "today": "use CAST(GETDATE() AS DATE)",
    "date_diff": "use DATEDIFF(day, a, b)",
    "date_add": "use DATEADD(day, n, d)",
    "date_sub": "use DATEADD(day, -n, d)",
    "date_trunc": "use DATEFROMPARTS / DATETRUNC (2022+) via a dispatched macro",
    "date_part": "use DATEPART(part, d)",
    "make_date": "use DATEFROMPARTS(y, m, d)",
    "strftime": "use FORMAT / CONVERT",
    "strptime": "use CONVERT / TRY_CONVERT",
    "epoch": "use DATEDIFF(second, '1970-01-01', d)",
    "extract": "use DATEPART(part, d)",
    "length": "use LEN()",
    "substr": "use SUBSTRING(s, start, length)",
    "strpos": "use CHARINDEX(needle, haystack)",
    "position": "use CHARINDEX(needle, haystack)",
    "ifnull": "use ISNULL / COALESCE",
    "nvl": "use ISNULL / COALESCE",
    "count_if": "use SUM(CASE WHEN ... THEN 1 ELSE 0 END)",
    "bool_and": "use MIN(CASE ...)",
    "bool_or": "use MAX(CASE ...)",
    "any_value": "use MIN/MAX",
    "arg_max": "use ROW_NUMBER()",
    "arg_min": "use ROW_NUMBER()",
    "max_by": "use ROW_NUMBER()",
    "min_by": "use ROW_NUMBER()",
    "array_agg": "not available",
    "list": "not available",
    "unnest": "not available",
    "struct_pack": "not available",
    "regexp_matches": "not available (LIKE patterns only)",
    "regexp_replace": "not available",
    "regexp_extract": "not available",
    "contains": "CONTAINS is full-text search in SQL Server: use CHARINDEX",
    "starts_with": "use LIKE 'x%'",
    "last_day": "use EOMONTH(d)",
    "trunc": "use FLOOR / CAST",
    "range": "not available: use a calendar table",
    "epoch_ms": "not available",
    "to_date": "use CONVERT(date, ...)",
    "to_timestamp": "use DATEADD(second, ...)",
    "list_value": "not available",
}
# Only in SQL Server 2022+ / Azure SQL: allowed, but said out loud.
NEWER_FUNCTIONS = {"greatest", "least", "generate_series", "datetrunc", "date_bucket"}

# Types with no (or another) meaning in SQL Server.
FOREIGN_TYPES = {
    "DOUBLE": "use FLOAT",
    "BOOLEAN": "SQL Server has no boolean type: use BIT or INT 0/1",
    "BOOL": "SQL Server has no boolean type: use BIT or INT 0/1",
    "TIMESTAMP": "TIMESTAMP is ROWVERSION in SQL Server: use DATETIME2",
    "TIMESTAMPTZ": "use DATETIMEOFFSET",
    "STRING": "use VARCHAR(n) / NVARCHAR(n)",
    "TEXT": "deprecated: use VARCHAR(MAX)",
    "HUGEINT": "use DECIMAL(38,0)",
    "UBIGINT": "not available",
    "UINTEGER": "not available",
    "INTERVAL": "not available: use DATEADD",
    "JSON": "not a type: use NVARCHAR(MAX)",
}
_STRING_TYPES = {"VARCHAR", "NVARCHAR", "CHAR", "NCHAR"}
_CHAR_DTYPES = {exp.DataType.Type.VARCHAR, exp.DataType.Type.NVARCHAR, exp.DataType.Type.CHAR,
                exp.DataType.Type.NCHAR, exp.DataType.Type.TEXT}
_PREDICATES = (
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.And, exp.Or, exp.Not, exp.Like,
    exp.ILike, exp.In, exp.Is, exp.Between, exp.Exists, exp.NullSafeEQ, exp.NullSafeNEQ,
)


# Microsoft Fabric Warehouse: the types it lacks (sqlglot's token type -> what to use).
# Microsoft's "Data types in Fabric Data Warehouse" lists bit, smallint, int, bigint,
# decimal/numeric, float, real, date, time, datetime2, char, varchar, varbinary,
# uniqueidentifier; datetime2 and time at most 6 fractional digits.
FABRIC_TYPES = {
    "NVARCHAR": "no nvarchar in Fabric Warehouse: use VARCHAR(n) (its collations are UTF-8)",
    "NCHAR": "no nchar in Fabric Warehouse: use CHAR(n) (its collations are UTF-8)",
    "TEXT": "no text/ntext in Fabric Warehouse: use VARCHAR(n)",
    "NTEXT": "no text/ntext in Fabric Warehouse: use VARCHAR(n)",
    "DATETIME": "no datetime in Fabric Warehouse: use DATETIME2(6)",
    "SMALLDATETIME": "no smalldatetime in Fabric Warehouse: use DATETIME2(6)",
    "TIMESTAMPTZ": "no datetimeoffset in Fabric Warehouse: use DATETIME2(6)",
    "MONEY": "no money in Fabric Warehouse: use DECIMAL(19,4)",
    "SMALLMONEY": "no smallmoney in Fabric Warehouse: use DECIMAL(10,4)",
    "UTINYINT": "no tinyint in Fabric Warehouse: use SMALLINT",
    "XML": "no xml in Fabric Warehouse: use VARCHAR",
    "IMAGE": "no image in Fabric Warehouse: use VARBINARY",
    "VARIANT": "no sql_variant in Fabric Warehouse",
    "ROWVERSION": "no rowversion in Fabric Warehouse",
    "GEOGRAPHY": "no geography in Fabric Warehouse: use VARCHAR (WKT) or VARBINARY (WKB)",
    "GEOMETRY": "no geometry in Fabric Warehouse: use VARCHAR (WKT) or VARBINARY (WKB)",
    "HIERARCHYID": "no hierarchyid in Fabric Warehouse",
}
# The only collations a Fabric warehouse has (both UTF-8), and the keyword for its own.
FABRIC_COLLATIONS = {"LATIN1_GENERAL_100_BIN2_UTF8", "LATIN1_GENERAL_100_CI_AS_KS_WS_SC_UTF8",
                     "DATABASE_DEFAULT"}


@dataclass(frozen=True)
class Finding:
    where: str      # model name or statement label
    rule: str       # short rule id, e.g. "double-colon-cast"
    detail: str
    severity: str = ERROR

    def __str__(self) -> str:
        return f"{self.severity.upper():5} {self.where}: [{self.rule}] {self.detail}"


_OPTION_RE = re.compile(r"\bOPTION\s*\((?:[^()]|\([^()]*\))*\)", re.IGNORECASE)
_INSERT_HINT_RE = re.compile(
    r"(\bINSERT\s+INTO\s+[\w.\[\]\"#]+)\s+WITH\s*\(\s*[A-Za-z_]+(?:\s*,\s*[A-Za-z_]+)*\s*\)",
    re.IGNORECASE,
)
_NULLS_ORDER_RE = re.compile(r"\bNULLS\s+(FIRST|LAST)\b", re.IGNORECASE)


def for_sqlglot(sql: str) -> str:
    """``sql`` without the two valid T-SQL clauses sqlglot cannot parse (see module doc)."""
    return _INSERT_HINT_RE.sub(r"\1", _OPTION_RE.sub("", sql))


def _tokens(sql: str):
    return sqlglot.tokenize(sql, read="tsql")


def scan_tokens(sql: str, where: str) -> list[Finding]:
    """Constructs found in the token stream (string literals and comments are single tokens)."""
    out: list[Finding] = []
    try:
        toks = _tokens(sql)
    except TokenError as exc:
        return [Finding(where, "tokenize", str(exc).splitlines()[0])]

    def add(rule: str, detail: str, tok, severity: str = ERROR) -> None:
        out.append(Finding(where, rule, f"{detail} (line {tok.line})", severity))

    for i, tok in enumerate(toks):
        kind = tok.token_type.name
        text = tok.text
        upper = text.upper()
        prev = toks[i - 1] if i else None
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if kind == "DCOLON":
            add("double-colon-cast", "'::' cast: use CAST(x AS type)", tok)
        elif kind == "DPIPE":
            add("pipe-concat", "'||' concatenation: use + or CONCAT()", tok)
        elif kind == "LIMIT" or (kind == "VAR" and upper == "LIMIT"):
            add("limit", "LIMIT: use TOP (n) or OFFSET/FETCH", tok)
        elif kind == "ILIKE" or upper == "ILIKE":
            add("ilike", "ILIKE: use LIKE (case-insensitive collation) or LOWER()", tok)
        elif kind in ("TRUE", "FALSE"):
            add("boolean-literal", f"boolean literal {text}: use 1/0", tok)
        elif kind == "QUALIFY":
            add("qualify", "QUALIFY: filter ROW_NUMBER() in an outer query", tok)
        elif kind == "INTERVAL" or upper == "INTERVAL":
            add("interval", "INTERVAL: use DATEADD(day, n, d)", tok)
        elif kind == "CURRENT_DATE" or upper == "CURRENT_DATE":
            add("current-date", "CURRENT_DATE: use CAST(GETDATE() AS DATE)", tok)
        elif upper in ("DATE", "TIMESTAMP") and nxt is not None and nxt.token_type.name == "STRING" \
                and (prev is None or prev.token_type.name not in ("ALIAS",)):
            add("typed-literal", f"{upper} '...' literal: use CAST('yyyy-mm-dd' AS DATE)", tok)
        elif prev is not None and prev.token_type.name == "ALIAS" and upper in FOREIGN_TYPES \
                and nxt is not None and nxt.token_type.name in ("R_PAREN", "L_PAREN"):
            add("foreign-type", f"type {upper}: {FOREIGN_TYPES[upper]}", tok)
        elif prev is not None and prev.token_type.name == "ALIAS" and upper in _STRING_TYPES \
                and nxt is not None and nxt.token_type.name == "R_PAREN":
            add("string-without-length",
                f"CAST(... AS {upper}) without a length is {upper}(30) in SQL Server", tok)
        elif nxt is not None and nxt.token_type.name == "L_PAREN" and kind in ("VAR", "IDENTIFIER") \
                or (nxt is not None and nxt.token_type.name == "L_PAREN" and text.lower() in FOREIGN_FUNCTIONS):
            name = text.lower()
            if name in FOREIGN_FUNCTIONS and FOREIGN_FUNCTIONS[name]:
                add("foreign-function", f"{name}(): {FOREIGN_FUNCTIONS[name]}", tok)
            elif name in NEWER_FUNCTIONS:
                add("sqlserver-2022-function", f"{name}() needs SQL Server 2022 or Azure SQL", tok, WARN)
            elif name in ("datediff", "dateadd", "datepart", "datename") and i + 2 < len(toks) \
                    and toks[i + 2].token_type.name == "STRING":
                add("datepart-string", f"{name}('...', ...): the date part is a keyword (day), not a string", tok)
    out += _order_and_argument_findings(toks, where)
    for m in _NULLS_ORDER_RE.finditer(sql):
        if not _inside_literal_or_comment(sql, m.start()):
            out.append(Finding(where, "nulls-order", f"NULLS {m.group(1).upper()}: not in SQL Server"))
    if "{{" in sql or "{%" in sql:
        out.append(Finding(where, "jinja", "uncompiled Jinja left in the SQL"))
    return out


DATEPARTS = {"year", "yy", "yyyy", "quarter", "qq", "q", "month", "mm", "m", "dayofyear", "dy", "y",
             "day", "dd", "d", "week", "wk", "ww", "weekday", "dw", "hour", "hh", "minute", "mi", "n",
             "second", "ss", "s", "millisecond", "ms", "microsecond", "mcs", "nanosecond", "ns",
             "iso_week", "isowk", "isoww"}
_DATE_FUNCTIONS = ("datediff", "datediff_big", "dateadd", "datepart", "datename")


def _arguments(toks, open_index: int) -> list[list]:
    """The comma-separated arguments (token lists) of the call whose '(' is at open_index."""
    args, current, depth = [], [], 0
    for tok in toks[open_index + 1:]:
        kind = tok.token_type.name
        if kind == "L_PAREN":
            depth += 1
        elif kind == "R_PAREN":
            if depth == 0:
                break
            depth -= 1
        elif kind == "COMMA" and depth == 0:
            args.append(current)
            current = []
            continue
        current.append(tok)
    args.append(current)
    return args


def _order_and_argument_findings(toks, where: str) -> list[Finding]:
    """Forms sqlglot accepts (and silently rewrites) that SQL Server rejects: TOP before
    DISTINCT, CONVERT to a string type without a length (30 characters), a date function
    with its unit last (DuckDB's argument order)."""
    out = []
    for i, tok in enumerate(toks):
        kind, text = tok.token_type.name, tok.text.lower()
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if kind == "TOP" and nxt is not None:
            j = i + 2
            if nxt.token_type.name == "L_PAREN":
                depth, j = 1, i + 2
                while j < len(toks) and depth:
                    depth += {"L_PAREN": 1, "R_PAREN": -1}.get(toks[j].token_type.name, 0)
                    j += 1
            if j < len(toks) and toks[j].token_type.name == "DISTINCT":
                out.append(Finding(where, "top-before-distinct",
                                   f"TOP ... DISTINCT: SQL Server wants SELECT DISTINCT TOP (n) (line {tok.line})"))
        if nxt is None or nxt.token_type.name != "L_PAREN":
            continue
        if text in ("convert", "try_convert") and i + 3 < len(toks) \
                and toks[i + 2].text.upper() in _STRING_TYPES and toks[i + 3].token_type.name == "COMMA":
            out.append(Finding(where, "convert-without-length",
                               f"{text.upper()}({toks[i + 2].text.upper()}, ...) without a length is "
                               f"{toks[i + 2].text.upper()}(30): give the length (line {tok.line})"))
        if text in _DATE_FUNCTIONS:
            args = _arguments(toks, i + 1)
            first, last = args[0], args[-1]

            def unit(arg) -> bool:
                return len(arg) == 1 and arg[0].text.lower() in DATEPARTS

            if len(args) >= 2 and not unit(first) and unit(last) and first and first[0].token_type.name != "STRING":
                out.append(Finding(where, "date-unit-last",
                                   f"{text}(..., {last[0].text}): the unit comes first in SQL Server: "
                                   f"{text}({last[0].text}, ...) (line {tok.line})"))
    return out


def _own_select(node: exp.Expression) -> exp.Expression | None:
    """The SELECT (or subquery) ``node`` belongs to."""
    parent = node.parent
    while parent is not None and not isinstance(parent, (exp.Select, exp.Subquery)):
        parent = parent.parent
    return parent


def _window_and_aggregate_findings(tree: exp.Expression, where: str) -> list[Finding]:
    """A window function in WHERE/HAVING/GROUP BY/ON, and an aggregate over an aggregate or
    a window function (both allowed by sqlglot, errors in SQL Server: Msg 4108, 130)."""
    out = []
    for cls, name in ((exp.Where, "WHERE"), (exp.Having, "HAVING"), (exp.Group, "GROUP BY")):
        for clause in tree.find_all(cls):
            home = _own_select(clause)
            for win in clause.find_all(exp.Window):
                if _own_select(win) is home:
                    out.append(Finding(where, "window-in-where",
                                       f"window function in {name} ({win.sql('tsql')[:50]}): compute it "
                                       "in a CTE, filter outside"))
    for join in tree.find_all(exp.Join):
        on = join.args.get("on")
        if on is not None and any(_own_select(w) is _own_select(on) for w in on.find_all(exp.Window)):
            out.append(Finding(where, "window-in-where", "window function in JOIN ... ON"))
    for agg in tree.find_all(exp.AggFunc):
        if isinstance(agg.parent, exp.Window) and agg.parent.this is agg:
            continue  # SUM(COUNT(*)) OVER (...) is fine
        home = _own_select(agg)
        for inner in agg.find_all(exp.AggFunc, exp.Window):
            if inner is agg or _own_select(inner) is not home:
                continue
            if isinstance(inner, exp.AggFunc) and isinstance(inner.parent, exp.Window):
                continue  # reported as the window
            kind = "a window function" if isinstance(inner, exp.Window) else "an aggregate"
            out.append(Finding(where, "nested-aggregate",
                               f"{agg.sql('tsql')[:60]}: an aggregate over {kind} is an error in "
                               "SQL Server: aggregate in a CTE first"))
            break
    return out


def dynamic_sql(sql: str) -> list[str]:
    """The T-SQL inside ``EXEC ('...' [+ '...'])`` and ``EXEC sp_executesql N'...'`` (the
    string arguments, unescaped), so dynamic SQL is checked like any other statement.
    A statement built in a variable (``EXEC sp_executesql @sql``) cannot be read here; the
    alter-column-collate rule looks at how such a variable is built."""
    try:
        toks = _tokens(sql)
    except TokenError:
        return []
    strings = ("STRING", "NATIONAL_STRING")
    out = []
    for i, tok in enumerate(toks):
        if tok.token_type.name != "EXECUTE":
            continue
        j = i + 1
        if j < len(toks) and toks[j].token_type.name == "L_PAREN":
            parts, j = [], j + 1
            while j < len(toks) and toks[j].token_type.name in strings + ("PLUS",):
                if toks[j].token_type.name != "PLUS":
                    parts.append(toks[j].text)
                j += 1
            if parts and j < len(toks) and toks[j].token_type.name == "R_PAREN":
                out.append("".join(parts))
            continue
        while j + 2 < len(toks) and toks[j + 1].token_type.name == "DOT":
            j += 2  # sys.sp_executesql
        if j + 1 < len(toks) and toks[j].text.lower() == "sp_executesql":
            k = j + 1
            if k + 3 < len(toks) and toks[k].token_type.name == "PARAMETER" and toks[k + 2].token_type.name == "EQ":
                k += 3  # @stmt = N'...'
            if k < len(toks) and toks[k].token_type.name in strings:
                out.append(toks[k].text)
    return out


_CHAR_TYPE_WORD = re.compile(r"\b(n?var)?char\b", re.IGNORECASE)


def _collate_findings(tree: exp.Expression, where: str) -> list[Finding]:
    """ALTER COLUMN of a character column must name its collation: without COLLATE the
    column takes the database's default collation, and comparisons with columns of
    another collation (the source's) fail with Msg 468. Checked on parsed ALTERs and on
    string concatenations that build one (dynamic SQL whose type is computed, e.g. from
    TYPE_NAME(), or names a character type)."""
    out = []
    for ac in tree.find_all(exp.AlterColumn):
        dtype = ac.args.get("dtype")
        if dtype is not None and dtype.this in _CHAR_DTYPES and not ac.args.get("collate"):
            out.append(Finding(where, "alter-column-collate",
                               f"{ac.sql('tsql')[:70]}: a character column's ALTER COLUMN needs "
                               "COLLATE (keep the column's collation, from sys.columns)"))
    for chain in tree.find_all(exp.Add):
        if isinstance(chain.parent, exp.Add):
            continue  # only whole concatenations
        texts = [str(n.this) for n in chain.find_all(exp.Literal, exp.National)
                 if isinstance(n, exp.National) or n.is_string]
        joined = " ".join(texts)
        if not re.search(r"alter\s+column", joined, re.IGNORECASE):
            continue
        computed = any(isinstance(f, exp.Anonymous) and str(f.this).lower() == "type_name"
                       for f in chain.find_all(exp.Anonymous))
        if (computed or _CHAR_TYPE_WORD.search(joined)) and not re.search(r"\bcollate\b", joined, re.I):
            out.append(Finding(where, "alter-column-collate",
                               "dynamic ALTER COLUMN built without COLLATE: a character column "
                               "would take the database's default collation (add "
                               "' collate ' + c.collation_name)"))
    return out


def _inside_literal_or_comment(sql: str, pos: int) -> bool:
    """Rough: is ``pos`` inside '...' or after -- on its line?"""
    line_start = sql.rfind("\n", 0, pos) + 1
    if "--" in sql[line_start:pos]:
        return True
    return sql[:pos].count("'") % 2 == 1


def _is_nested_with(node: exp.With) -> bool:
    """A WITH inside a CTE or a subquery (dbt-sqlserver and SQL Server reject both)."""
    parent = node.parent
    return parent is not None and any(
        isinstance(a, (exp.CTE, exp.Subquery)) for a in _ancestors(parent)
    ) or isinstance(parent, (exp.CTE, exp.Subquery))


def _ancestors(node: exp.Expression):
    while node is not None:
        yield node
        node = node.parent


def _has_top(select: exp.Select) -> bool:
    return bool(select.args.get("limit") or select.args.get("offset") or select.args.get("fetch"))


def scan_tree(tree: exp.Expression, where: str, is_model: bool) -> list[Finding]:
    """Constructs found in the parsed statement."""
    out: list[Finding] = []
    for w in tree.find_all(exp.With):
        if _is_nested_with(w):
            out.append(Finding(where, "nested-cte", "WITH inside a CTE or subquery: flatten the CTEs"))
    for g in tree.find_all(exp.Group):
        for e in g.expressions:
            if isinstance(e, exp.Literal) and not e.is_string:
                out.append(Finding(where, "group-by-position", f"GROUP BY {e.this}: name the expression"))
    for spec in tree.find_all(exp.WindowSpec):
        if str(spec.args.get("kind") or "").upper() == "RANGE":
            bounds = [spec.args.get("start"), spec.args.get("end")]
            if not all(_plain_bound(b) for b in bounds):
                out.append(Finding(where, "range-offset-frame",
                                   "RANGE frame with an offset: use ROWS over dense daily rows or a calendar join"))
    for sel in tree.find_all(exp.Select):
        for proj in sel.expressions:
            inner = proj.this if isinstance(proj, exp.Alias) else proj
            if isinstance(inner, exp.EQ) and isinstance(inner.this, exp.Parameter):
                continue  # SELECT @var = expr: a variable assignment, not a predicate
            if isinstance(inner, _PREDICATES):
                out.append(Finding(where, "boolean-column",
                                   f"predicate selected as a value ({proj.sql('tsql')[:60]}): "
                                   "use CASE WHEN ... THEN 1 ELSE 0 END"))
        order = sel.args.get("order")
        is_root = sel is tree or (isinstance(tree, (exp.Insert, exp.Create)) and sel.parent is tree)
        if order is not None and not _has_top(sel) and (is_model or not is_root):
            out.append(Finding(where, "order-by-in-view",
                               "ORDER BY without TOP in a view, CTE or subquery is an error in SQL Server"))
    for sel in tree.find_all(exp.Select):
        if not _names_its_columns(sel, tree, is_model):
            continue
        seen: dict[str, int] = {}
        for proj in sel.expressions:
            if isinstance(proj, exp.Star) or (isinstance(proj, exp.Column) and isinstance(proj.this, exp.Star)):
                continue
            name = proj.output_name  # the alias or a plain column's name; '' for an expression
            if not name:
                out.append(Finding(where, "unnamed-column",
                                   f"{proj.sql('tsql')[:60]} has no column name: a view, CTE or "
                                   "derived table needs one (AS name)"))
                continue
            seen[name.lower()] = seen.get(name.lower(), 0) + 1
        for name, count in seen.items():
            if count > 1:
                out.append(Finding(where, "duplicate-column",
                                   f"column name {name} appears {count} times in one view/CTE/derived table"))
    conditions = []
    for cls in (exp.Where, exp.Having):
        conditions += [n.this for n in tree.find_all(cls)]
    conditions += [j.args.get("on") for j in tree.find_all(exp.Join) if j.args.get("on") is not None]
    conditions += [i.this for i in tree.find_all(exp.If)]
    for cond in conditions:
        for leaf in _condition_leaves(cond):
            if isinstance(leaf, (exp.Column, exp.Identifier, exp.Boolean)):
                out.append(Finding(where, "boolean-column",
                                   f"{leaf.sql('tsql')} used as a condition: compare it (= 1)"))
    for arith in tree.find_all(exp.Add, exp.Sub):
        if any(_is_date(side) for side in (arith.this, arith.expression)):
            out.append(Finding(where, "date-arithmetic",
                               f"{arith.sql('tsql')[:70]}: DATE +/- is an error in SQL Server: "
                               "use DATEADD(day, n, d) / DATEDIFF(day, a, b)"))
    for win in tree.find_all(exp.Window):
        if isinstance(win.this, exp.Count) and isinstance(win.this.this, exp.Distinct):
            out.append(Finding(where, "window-count-distinct",
                               "COUNT(DISTINCT ...) OVER (...) is not allowed in SQL Server: "
                               "use DENSE_RANK() ascending + descending - 1, or a join"))
    for node in tree.find_all(exp.In):
        if isinstance(node.this, exp.Tuple):
            out.append(Finding(where, "row-value-in", "(a, b) IN (...): use EXISTS with a correlated join"))
    for star in tree.find_all(exp.Star):
        if any(star.args.get(k) for k in ("except_", "except", "replace", "rename", "ilike")):
            out.append(Finding(where, "star-modifier", "SELECT * EXCLUDE/REPLACE/RENAME: list the columns"))
    for join in tree.find_all(exp.Join):
        if join.args.get("using"):
            out.append(Finding(where, "join-using", "JOIN ... USING (...): use ON a.x = b.x"))
    for _ in tree.find_all(exp.Filter):
        out.append(Finding(where, "aggregate-filter", "aggregate FILTER (WHERE ...): use SUM(CASE WHEN ...)"))
        break
    for _ in tree.find_all(exp.Lateral):
        out.append(Finding(where, "lateral", "LATERAL: use CROSS APPLY / OUTER APPLY"))
        break
    for node in tree.find_all(exp.Distinct):
        if node.args.get("on"):
            out.append(Finding(where, "distinct-on", "DISTINCT ON: use ROW_NUMBER() in a CTE"))
    for _ in tree.find_all(exp.NullSafeEQ, exp.NullSafeNEQ):
        out.append(Finding(where, "is-distinct-from", "IS [NOT] DISTINCT FROM needs SQL Server 2022", WARN))
        break
    for alias in tree.find_all(exp.Alias):
        if alias.alias.lower() in ("row_hash", "sig_hash") and any(
                str(f.this).lower() in ("checksum", "binary_checksum", "checksum_agg")
                for f in alias.find_all(exp.Anonymous)):
            out.append(Finding(where, "checksum-change-detection",
                               f"{alias.alias} uses CHECKSUM: Microsoft documents it may miss "
                               "changes (and it follows the collation); use HASHBYTES('SHA2_256', ...)"))
    for rnd in tree.find_all(exp.Round):
        if rnd.args.get("decimals") is None:
            out.append(Finding(where, "round-one-arg", "ROUND(x) needs a length in SQL Server: ROUND(x, 0)"))
    for div in tree.find_all(exp.Div):
        if not any(_is_non_integer(side) for side in (div.this, div.expression)):
            out.append(Finding(where, "integer-division",
                               f"{div.sql('tsql')[:70]}: cast to DECIMAL/FLOAT before dividing "
                               "(integer division truncates in SQL Server)", WARN))
    return out


def _names_its_columns(sel: exp.Select, tree: exp.Expression, is_model: bool) -> bool:
    """True for a SELECT whose output columns SQL Server names: a model's top level (it
    becomes a view), a CTE body, a derived table in FROM/JOIN (also each branch of a UNION
    there: only the first names the columns, so only it is checked)."""
    node: exp.Expression = sel
    while isinstance(node.parent, exp.Union):
        if node.parent.this is not node:
            return False
        node = node.parent
    parent = node.parent
    if parent is None or node is tree:
        return is_model
    if isinstance(parent, exp.CTE):
        return True
    if isinstance(parent, exp.Subquery):
        return isinstance(parent.parent, (exp.From, exp.Join))
    return False


def _plain_bound(bound) -> bool:
    """UNBOUNDED and CURRENT ROW are the only RANGE bounds SQL Server accepts."""
    if bound is None:
        return True
    text = bound.sql("tsql") if isinstance(bound, exp.Expression) else str(bound)
    return text.strip().upper() in ("UNBOUNDED", "CURRENT ROW")


_DATE_NAME = re.compile(r"(date|datum)$", re.IGNORECASE)


def _is_date(node: exp.Expression) -> bool:
    """A DATE-valued operand: a cast to DATE or a column named ...Date / ...Datum."""
    if isinstance(node, exp.Paren):
        return _is_date(node.this)
    if isinstance(node, (exp.Cast, exp.TryCast)):
        to = node.args.get("to")
        return to is not None and to.this in (exp.DataType.Type.DATE, exp.DataType.Type.DATETIME2,
                                              exp.DataType.Type.DATETIME)
    return isinstance(node, exp.Column) and bool(_DATE_NAME.search(node.name or ""))


def _condition_leaves(cond: exp.Expression):
    """The operands of AND/OR/NOT/parentheses: each must itself be a predicate."""
    if isinstance(cond, (exp.And, exp.Or)):
        yield from _condition_leaves(cond.this)
        yield from _condition_leaves(cond.expression)
    elif isinstance(cond, (exp.Not, exp.Paren)):
        yield from _condition_leaves(cond.this)
    else:
        yield cond


def _is_non_integer(node: exp.Expression) -> bool:
    """True when ``node`` is visibly decimal or float (a cast, a decimal literal, x * 1.0)."""
    for n in node.walk():
        if isinstance(n, (exp.Cast, exp.TryCast)):
            to = n.args.get("to")
            if to is not None and to.this in (exp.DataType.Type.DECIMAL, exp.DataType.Type.DOUBLE,
                                              exp.DataType.Type.FLOAT, exp.DataType.Type.MONEY,
                                              exp.DataType.Type.BIGDECIMAL):
                return True
        if isinstance(n, exp.Literal) and not n.is_string and "." in str(n.this):
            return True
    return False


def _clause_end(toks, i: int) -> int:
    """Index just past the clause token i starts: up to a ',' outside parentheses, a ';'
    or the end (one constraint of a constraint list)."""
    depth, j = 0, i
    while j < len(toks):
        kind = toks[j].token_type.name
        depth += {"L_PAREN": 1, "R_PAREN": -1}.get(kind, 0)
        if kind == "SEMICOLON" or depth < 0 or (kind == "COMMA" and depth == 0):
            break
        j += 1
    return j


def _type_position(toks, words, i: int) -> bool:
    """Token i names a stored type: CAST(x AS type), CONVERT(type, ...) or a column of
    CREATE / ALTER TABLE (not a DECLAREd variable: never stored)."""
    prev = toks[i - 1].token_type.name if i else ""
    if prev == "ALIAS":
        return True
    if prev == "L_PAREN" and i > 1 and words[i - 2] in ("CONVERT", "TRY_CONVERT"):
        return True
    if prev in ("VAR", "IDENTIFIER"):
        start = i
        while start and toks[start - 1].token_type.name != "SEMICOLON":
            start -= 1
        return words[start:start + 2] in (["CREATE", "TABLE"], ["ALTER", "TABLE"])
    return False


def fabric_token_findings(sql: str, where: str) -> list[Finding]:
    """Fabric Warehouse rules, read off the token stream (so they hold in statements
    sqlglot only keeps as text, such as ALTER TABLE ... NOT ENFORCED, and never count what
    sqlglot adds itself): stored types it lacks, datetime2/time beyond 6 digits, (MAX)
    strings (a preview there), collations, clustered and columnstore indexes, user indexes,
    keys, ALTER COLUMN, #temp tables."""
    try:
        toks = _tokens(sql)
    except TokenError:
        return []  # scan_tokens reports it
    out = []

    def add(rule: str, detail: str, tok, severity: str = ERROR) -> None:
        out.append(Finding(where, rule, f"{detail} (line {tok.line})", severity))

    words = [t.text.upper() if t.token_type.name not in ("STRING", "NATIONAL_STRING") else ""
             for t in toks]
    for i, tok in enumerate(toks):
        word, nxt = words[i], (words[i + 1] if i + 1 < len(toks) else "")
        kind = tok.token_type.name if tok.token_type.name in FABRIC_TYPES or word not in FABRIC_TYPES else word
        typed = kind in FABRIC_TYPES or kind in ("DATETIME2", "TIME", "VARCHAR", "VARBINARY", "CHAR")
        if typed and _type_position(toks, words, i):
            params = words[i + 2] if nxt == "(" and i + 2 < len(toks) else ""
            if kind in FABRIC_TYPES:
                add("fabric-type", f"{word}: {FABRIC_TYPES[kind]}", tok)
            elif kind in ("DATETIME2", "TIME") and not (params.isdigit() and int(params) <= 6):
                add("fabric-type", f"{word}{'(' + params + ')' if params else ''}: Fabric Warehouse "
                    f"keeps at most 6 fractional digits: write {word}(6) ({word} alone is {word}(7))", tok)
            elif params == "MAX":
                add("fabric-max-type", f"{word}(MAX): (MAX) types are a preview in Fabric "
                    "Warehouse: give a length", tok, WARN)
        elif word == "COLLATE" and nxt and nxt not in FABRIC_COLLATIONS:
            add("fabric-collation", f"COLLATE {toks[i + 1].text}: a Fabric warehouse has only "
                "Latin1_General_100_BIN2_UTF8 and Latin1_General_100_CI_AS_KS_WS_SC_UTF8", tok)
        elif word in ("CLUSTERED", "COLUMNSTORE"):
            add("fabric-clustered", f"{word}: Fabric Warehouse has no clustered or columnstore "
                "indexes (keys are PRIMARY KEY NONCLUSTERED ... NOT ENFORCED)", tok)
        elif word == "CREATE" and "INDEX" in words[i + 1:i + 5]:
            add("fabric-index", "CREATE INDEX: Fabric Warehouse has no user-defined indexes", tok)
        elif tok.token_type.name in ("PRIMARY_KEY", "FOREIGN_KEY", "UNIQUE") and i \
                and words[i - 1] not in ("SELECT", "CREATE"):
            rest = words[i + 1:_clause_end(toks, i)]
            enforced = any(rest[k:k + 2] == ["NOT", "ENFORCED"] for k in range(len(rest)))
            foreign = tok.token_type.name == "FOREIGN_KEY"
            if not enforced or (not foreign and rest[:1] != ["NONCLUSTERED"]):
                form = f"{word} (...)" if foreign else f"{word} NONCLUSTERED (...)"
                add("fabric-constraint", f"{word}: Fabric Warehouse has only {form} NOT ENFORCED", tok)
        elif word == "ALTER" and nxt == "COLUMN" or (
                tok.token_type.name in ("STRING", "NATIONAL_STRING")
                and re.search(r"\balter\s+column\b", tok.text, re.I)):
            add("fabric-alter-column", "ALTER COLUMN: Fabric Warehouse's ALTER TABLE only adds "
                "nullable columns and NOT ENFORCED constraints", tok)
        elif tok.token_type.name == "HASH" and i + 1 < len(toks) and toks[i + 1].token_type.name == "VAR" \
                and toks[i + 1].start == tok.end + 1:
            add("fabric-temp-table", f"#{toks[i + 1].text}: dbt-fabric stages in regular tables; "
                "Fabric Warehouse's #temp tables are session-scoped: check this on a live "
                "warehouse", tok, WARN)
    return out


def check_sql(sql: str, where: str, is_model: bool = False,
              fabric: bool = False) -> tuple[int, list[Finding]]:
    """Parse ``sql`` (one or more statements) as T-SQL and scan it.

    Returns (number of statements parsed, findings). A parse failure is an error finding.
    ``is_model``: the SQL is a dbt model body (dbt-sqlserver wraps it in a view), so an
    ORDER BY without TOP at the top level is an error too. ``fabric``: the statement is for
    a Fabric warehouse; its rules come on top (fabric_token_findings) and a nested CTE,
    a preview feature there, is a warning.
    """
    findings = scan_tokens(sql, where) + (fabric_token_findings(sql, where) if fabric else [])
    try:
        trees = [t for t in sqlglot.parse(for_sqlglot(sql), read="tsql") if t is not None]
    except (ParseError, TokenError) as exc:
        first = str(exc).splitlines()[0]
        findings.append(Finding(where, "parse", f"not valid T-SQL for sqlglot: {first}"))
        trees = []
    for tree in trees:
        view = isinstance(tree, exp.Create) and str(tree.args.get("kind") or "").upper() == "VIEW"
        if view and isinstance(tree.expression, exp.Query):
            tree = tree.expression  # a view's body follows a model's rules
        findings += (scan_tree(tree, where, is_model or view) + _collate_findings(tree, where)
                     + _window_and_aggregate_findings(tree, where))
    if fabric:
        findings = [_fabric_nested_cte(f) if f.rule == "nested-cte" else f for f in findings]
    n = len(trees)
    for k, inner in enumerate(dynamic_sql(sql), start=1):
        m, more = check_sql(inner, f"{where} (dynamic SQL {k})", fabric=fabric)
        n += m
        findings += more
    return n, _dedupe(findings)


def _fabric_nested_cte(f: Finding) -> Finding:
    """Fabric Warehouse runs nested CTEs as a preview feature (SQL Server does not at all);
    dbt-fabric itself nests a data test that starts with WITH in its own CTE."""
    return Finding(f.where, f.rule, "WITH inside a CTE: nested CTEs are a preview feature of "
                   "Fabric Warehouse (check-sqlserver keeps the models free of them)", WARN)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen, out = set(), []
    for f in findings:
        if f not in seen:
            seen.add(f)
            out.append(f)
    return out
