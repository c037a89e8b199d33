{#-
  Data tests scoped to what a build re-derived (docs/architecture.md, "Incremental builds").

  dbt's generic tests read their model through `get_where_subquery`; this project's version
  keeps the `where` config and, on an incremental build, also restricts the rows of an
  incremental model to those this build wrote:
  - an item-grained model (tag `item_incremental`): rows with `_through_file_id` above the
    watermark the build started from (`int_delivery_watermark.previous_through_file_id`,
    rebuilt in this build before them: they depend on it), i.e. exactly the rows its
    pre-hook deleted and the model appended again;
  - an incremental staging model: rows of the deliveries newer than those the previous build
    staged (`_file_id` above `int_delivery_watermark.through_file_id`, which still holds the
    previous build's row when staging tests run: the watermark depends on every staging
    model, so `dbt build` runs it after their tests). A key whose newest version is an older
    row keeps the row it had, tested then.
  - a view whose config names `meta: {test_scope_from: {model: M, key: K}}`: its rows whose key
    K is among the rows of the item-grained model M this build wrote. Only for a view whose
    rows are M's rows one to one and whose tests read only columns taken from M (then a row it
    did not re-derive is the row it was when last tested).
  Every other model (tables rebuilt whole, other views) and every singular test keeps every
  row.

  Every test sees every row when the var `custodia_test_scope` is 'all' (the scheduled full
  check, `custodia build --full-check`), on `--full-refresh`, and on a first build (no
  watermark table yet, or a null watermark: everything was derived).
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set scope = test_scope_condition(relation) -%}
    {%- set conditions = [where, scope] | reject('none') | reject('equalto', '') | list -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}


{#- The condition restricting a test of `relation` to the rows this build wrote (none: every
    row). -#}
{% macro test_scope_condition(relation) -%}
    {%- if not execute or flags.FULL_REFRESH or var('custodia_test_scope', 'touched') == 'all'
            or relation.identifier is not defined -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- for node in graph.nodes.values()
            if node.resource_type == 'model'
            and node.alias | lower == relation.identifier | lower
            and node.schema | lower == relation.schema | lower
            and node.config.materialized == 'incremental' -%}
        {%- if 'item_incremental' in node.tags -%}
            {%- do return(test_scope_rows('_through_file_id', 'previous_through_file_id')) -%}
        {%- else -%}
            {%- do return(test_scope_rows('_file_id', 'through_file_id')) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for node in graph.nodes.values()
            if node.resource_type == 'model'
            and node.alias | lower == relation.identifier | lower
            and node.schema | lower == relation.schema | lower
            and node.config.materialized == 'view'
            and (node.config.meta or {}).get('test_scope_from') -%}
        {%- do return(test_scope_view(node.config.meta['test_scope_from'])) -%}
    {%- endfor -%}
    {%- do return(none) -%}
{%- endmacro %}


{#- A view's rows whose `key` is among the rows of the item-grained `model` this build wrote
    (none when that model's tests would read every row). -#}
{% macro test_scope_view(scope_from) -%}
    {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and node.name == scope_from['model']
            and 'item_incremental' in node.tags -%}
        {%- set rows = test_scope_rows('_through_file_id', 'previous_through_file_id') -%}
        {%- if rows is none -%}
            {%- do return(none) -%}
        {%- endif -%}
        {%- set source = adapter.get_relation(
            database=node.database, schema=node.schema, identifier=node.alias) -%}
        {%- do return(scope_from['key'] ~ ' in (select ' ~ scope_from['key'] ~ ' from '
            ~ source ~ ' where ' ~ rows ~ ')') -%}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error('meta test_scope_from names ' ~ scope_from['model']
        ~ ', which is not an item-grained incremental model') }}
{%- endmacro %}


{#- `column` above `int_delivery_watermark`.`since` as it stands; none when there is none. -#}
{% macro test_scope_rows(column, since) -%}
    {%- set watermark = none -%}
    {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and node.name == 'int_delivery_watermark' -%}
        {%- set watermark = adapter.get_relation(
            database=node.database, schema=node.schema, identifier=node.alias) -%}
        {%- if watermark is none -%}
            {%- do return(none) -%}
        {%- endif -%}
        {%- set known = run_query('select ' ~ since ~ ' from ' ~ watermark) -%}
        {%- if known.rows | length != 1 or known.rows[0][0] is none -%}
            {%- do return(none) -%}
        {%- endif -%}
        {%- do return(column ~ ' > ' ~ known.rows[0][0]) -%}
    {%- endfor -%}
    {%- do return(none) -%}
{%- endmacro %}
