{#- The figures of rpt_reconciliation_monthly a month-end close freezes (audit.closed_months)
    and rpt_restatements compares, in the mart's column order. The same list is
    orchestration/ingest/audit.py CLOSED_FIGURES; tests/test_close.py keeps both equal to the
    mart's contract. -#}
{% macro closed_figures() -%}
    {{ return([
        'stocking_order_revenue',
        'case_sale_revenue',
        'expected_revenue',
        'billed_revenue',
        'double_billed_amount',
        'unbilled_amount',
        'non_sale_units',
        'non_sale_value',
        'returned_value',
    ]) }}
{%- endmacro %}
