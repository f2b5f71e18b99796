{#-
    Money in the views, rounded one way everywhere: taken to 6 places, rounded half away from zero to cents,
    typed NUMBER(18, 2). The 6-place step matters for ratios and averages, whose exact value may have more
    places than a NUMBER can hold (or, on the local emulator, be a DOUBLE such as 12.344999...): fixing it at
    6 places first makes a half cent round up on every engine. For a sum of NUMBER(12, 2) it changes nothing.

    Snowflake has no SQL macros: a view imports this one (`{% from 'macros/money.sql' import money %}`) and
    jinja2 expands `{{ money('<expression>') }}` before the view is sent (ecom_pipeline/warehouse/sqlrender.py),
    as sqlfluff's jinja templater does when it lints.
-#}
{% macro money(amount) -%}
    cast(round(cast({{ amount }} as number(38, 6)), 2) as number(18, 2))
{%- endmacro %}
