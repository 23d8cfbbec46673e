{#- The target fund (var `fund`), validated before any of it reaches SQL.

    Returns a dict {code, isins, min_ticket_eur, horizons, isin_list_sql, min_ticket_sql,
    house_isins, house_list_sql}.
    code must match ^[A-Z0-9_]+$, every ISIN ^[A-Z]{2}[A-Z0-9]{9}[0-9]$, the minimum ticket a
    positive number and the horizons whole days in 1..365; house_isins (optional, the fund
    house's other funds, docs/rules.md §7b) a list of ISINs none of which is a target ISIN,
    house_list_sql '' when there are none; anything else is a compiler error, so no SQL is
    ever built from unvalidated text. -#}
{% macro fund() %}
    {%- set raw = var('fund') -%}
    {%- if raw is not mapping -%}
        {{ exceptions.raise_compiler_error("var 'fund' must be a mapping {code, isins, min_ticket_eur, horizons}") }}
    {%- endif -%}
    {%- set code = raw.get('code') -%}
    {%- if code is not string or not modules.re.match('^[A-Z0-9_]{1,40}$', code) -%}
        {{ exceptions.raise_compiler_error("fund.code must match [A-Z0-9_]+ (got " ~ code ~ ")") }}
    {%- endif -%}
    {%- set isins = raw.get('isins') -%}
    {%- if isins is string or isins is not iterable or (isins | length) == 0 -%}
        {{ exceptions.raise_compiler_error("fund.isins must be a non-empty list of ISINs") }}
    {%- endif -%}
    {%- for isin in isins -%}
        {%- if isin is not string or not modules.re.match('^[A-Z]{2}[A-Z0-9]{9}[0-9]$', isin) -%}
            {{ exceptions.raise_compiler_error("fund.isins: malformed ISIN " ~ isin) }}
        {%- endif -%}
    {%- endfor -%}
    {%- set ticket = raw.get('min_ticket_eur', 1000) -%}
    {%- if ticket is not number or ticket is sameas true or ticket is sameas false or ticket <= 0 -%}
        {{ exceptions.raise_compiler_error("fund.min_ticket_eur must be a positive number (got " ~ ticket ~ ")") }}
    {%- endif -%}
    {%- set horizons = raw.get('horizons', [7, 14, 30]) -%}
    {%- if horizons is string or horizons is not iterable or (horizons | length) == 0 -%}
        {{ exceptions.raise_compiler_error("fund.horizons must be a non-empty list of day counts") }}
    {%- endif -%}
    {%- set clean_h = [] -%}
    {%- for h in horizons -%}
        {%- if h is not number or h is sameas true or h is sameas false or h != (h | int) or h < 1 or h > 365 -%}
            {{ exceptions.raise_compiler_error("fund.horizons: " ~ h ~ " is not a whole number of days in 1..365") }}
        {%- endif -%}
        {%- if (h | int) not in clean_h -%}{%- do clean_h.append(h | int) -%}{%- endif -%}
    {%- endfor -%}
    {%- set house = raw.get('house_isins') or [] -%}
    {%- if house is string or house is not iterable or house is mapping -%}
        {{ exceptions.raise_compiler_error("fund.house_isins must be a list of ISINs") }}
    {%- endif -%}
    {%- for isin in house -%}
        {%- if isin is not string or not modules.re.match('^[A-Z]{2}[A-Z0-9]{9}[0-9]$', isin) -%}
            {{ exceptions.raise_compiler_error("fund.house_isins: malformed ISIN " ~ isin) }}
        {%- endif -%}
        {%- if isin in isins -%}
            {{ exceptions.raise_compiler_error("fund.house_isins: " ~ isin ~ " is a target ISIN") }}
        {%- endif -%}
    {%- endfor -%}
    {%- set house_quoted = [] -%}
    {%- for isin in (house | unique | sort) -%}{%- do house_quoted.append("'" ~ isin ~ "'") -%}{%- endfor -%}
    {%- set quoted = [] -%}
    {%- for isin in (isins | unique | sort) -%}{%- do quoted.append("'" ~ isin ~ "'") -%}{%- endfor -%}
    {{ return({
        'code': code,
        'isins': isins | unique | sort | list,
        'min_ticket_eur': ticket,
        'min_ticket_sql': 'cast(' ~ ('%.2f' | format(ticket)) ~ ' as decimal(18,2))',
        'horizons': clean_h | sort,
        'isin_list_sql': quoted | join(', '),
        'house_isins': house | unique | sort | list,
        'house_list_sql': house_quoted | join(', '),
    }) }}
{% endmacro %}
