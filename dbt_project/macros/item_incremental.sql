{#-
  Item-grained incremental models (tag `item_incremental`, see docs/architecture.md): the
  models of models/intermediate/item_incremental/, whose folder config in dbt_project.yml
  sets the tag, the append strategy and the pre-hook `delete_touched`.

  The large intermediate models are derived per item (its lines, transfers and custody) and,
  for event lines, per (representative, custodian) pair. A build re-derives only what new
  deliveries touch: `int_touched_entities` lists the items and users touched by staging rows
  newer than the watermark, each tagged model deletes the rows of those items (pre-hook
  `delete_touched`) and appends them again, derived from every staged row of the item, so the
  result equals a full build. `custodia build --full-refresh` (or a missing table) derives
  everything.

  The watermark is the delivery (`_file_id`) up to which every tagged model was derived: each
  row carries `_through_file_id`, the newest delivery staged when it was derived, and the
  watermark is the least of the tagged models' newest, so a run that failed half-way (a
  Dagster run writes in place) is caught up by the next one.
-#}

{#- The tagged models' relations as they stand before this build re-derives them (none for a
    model whose table does not exist yet). -#}
{% macro item_incremental_relations() -%}
    {%- set relations = [] -%}
    {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and 'item_incremental' in node.tags -%}
        {%- do relations.append(adapter.get_relation(
                database=node.database, schema=node.schema, identifier=node.alias)) -%}
    {%- endfor -%}
    {{ return(relations) }}
{%- endmacro %}


{#- on-run-start hook (dbt_project.yml): drop the table of a tagged model that was built by an
    older definition of it, one that was not yet item-grained (no `_through_file_id`). It is
    derived state: dropped, it is missing, so this build derives it whole and the watermark is
    0 (every other tagged model re-derives every item too), as for a model added since the last
    build. Without this, the first build after such an upgrade would fail on the changed
    columns and leave the warehouse at its previous build. -#}
{% macro drop_outdated_item_incremental() -%}
    {%- set statements = [] -%}
    {%- if execute and not flags.FULL_REFRESH -%}
        {%- for relation in item_incremental_relations() | reject('none') -%}
            {%- set names = adapter.get_columns_in_relation(relation)
                | map(attribute='name') | map('lower') | list -%}
            {%- if '_through_file_id' not in names -%}
                {%- do log('dropping ' ~ relation ~ ': built before its model was item-grained'
                    ~ ' incremental; this build derives it whole', info=True) -%}
                {#- the hook runs the statement; the cache learns now, so the models and the
                    watermark of this run see the table missing -#}
                {%- do statements.append('drop table if exists ' ~ relation) -%}
                {%- do adapter.cache_dropped(relation) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if statements -%}
        {#- the columns were read in a transaction on the hook's connection: commit the drops
            in it (an uncommitted drop is rolled back when the hook's connection is released) -#}
        {{ (statements + ['commit']) | join(';\n') }}
    {%- endif -%}
{%- endmacro %}


{#- SQL of the watermark: the delivery every tagged model was derived through.
    - null on --full-refresh or when no tagged table exists yet: no tagged model is
      incremental in this build, each derives everything;
    - 0 when some tagged table is missing (a model added since the last build) or holds no
      row yet: the incremental ones then re-derive every item, so all agree;
    - else the least of the tables' newest `_through_file_id`, so a run that failed half-way
      (a Dagster run writes in place) is caught up by the next one. -#}
{% macro item_incremental_watermark() -%}
    {%- set relations = item_incremental_relations() if execute else [] -%}
    {%- set existing = relations | reject('none') | list -%}
    {%- if flags.FULL_REFRESH or not existing -%}
        cast(null as {{ dbt.type_bigint() }})
    {%- elif existing | length < relations | length -%}
        cast(0 as {{ dbt.type_bigint() }})
    {%- else -%}
        {%- set newest = [] -%}
        {%- for relation in existing -%}
            {%- do newest.append('select coalesce(max(_through_file_id), 0) as through_file_id'
                ~ ' from ' ~ relation) -%}
        {%- endfor -%}
        (select min(through_file_id) from ({{ newest | join(' union all ') }}) as derived)
    {%- endif -%}
{%- endmacro %}


{#- The previous build's table of a model, read before this build replaces it (not a ref:
    it is the state being replaced, not an input); none when it does not exist. -#}
{% macro previous_state(model_name) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and node.name == model_name -%}
        {{ return(adapter.get_relation(
            database=node.database, schema=node.schema, identifier=node.alias)) }}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}


{#- The touched ids of one kind ('item' or 'user') as a subquery. -#}
{% macro touched(kind) -%}
    select touched_id from {{ ref('int_touched_entities') }} where touched_kind = '{{ kind }}'
{%- endmacro %}


{#- A filter keeping only touched rows on an incremental run (true on a full one). -#}
{% macro only_touched(column, kind='item') -%}
    {%- if is_incremental() -%}
        {{ column }} in ({{ touched(kind) }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- A filter keeping only rows about a touched item or a touched user on an incremental run
    (true on a full one). -#}
{% macro touched_item_or_user(item_column, user_column) -%}
    {%- if is_incremental() -%}
        ({{ item_column }} in ({{ touched('item') }})
            or {{ user_column }} in ({{ touched('user') }}))
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- Pre-hook of a tagged model: delete the rows about to be re-derived. `condition`, when
    given, replaces the default (the item is touched). -#}
{% macro delete_touched(condition=none) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where {{ condition if condition else only_touched('item_id') }}
    {%- endif -%}
{%- endmacro %}


{#- The `_through_file_id` column of a tagged model's rows. -#}
{% macro through_file_id() -%}
    (select through_file_id from {{ ref('int_delivery_watermark') }})
{%- endmacro %}


{#- Lines of int_event_line_states to re-derive: on a touched item, by a touched representative,
    or on an item some touched user held or sold as facility stock (the line's access target,
    custodian or seller, may be that user, whose links, sharing or role changed). It depends on
    the line's item and representative only, which are the same before and after the build for
    an untouched item, so the pre-hook deletes exactly the lines the model derives again. -#}
{% macro line_states_touched(item_column='item_id', representative_column='representative_id') -%}
    {%- if is_incremental() -%}
    (
        {{ item_column }} in ({{ touched('item') }})
        or {{ representative_column }} in ({{ touched('user') }})
        or {{ item_column }} in (
            select item_id from {{ ref('int_custody_intervals') }}
            where custodian_id in ({{ touched('user') }})
            union
            select item_id from {{ ref('int_item_line_sequence') }}
            where is_facility_stock_sale and representative_id in ({{ touched('user') }})
        )
    )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- The columns of `relation` but `excluded`, as a select list (qualified by `prefix`); the
    portable form of `select * exclude (...)`. -#}
{% macro columns_except(relation, excluded, prefix) -%}
    {%- if not execute -%}
        {{ return(prefix ~ '.*') }}
    {%- endif -%}
    {#- a unit test's fixture (a CTE `__dbt__cte__<model>`) has the columns of the built model,
        a neighbour of the tested one: introspect that (a duplicate column is an error on
        Spark); a relation that cannot be introspected keeps every column -#}
    {%- set fixture = (relation | string).split('__dbt__cte__') -%}
    {%- if fixture | length > 1 -%}
        {%- set relation = adapter.get_relation(
            database=model.database, schema=model.schema, identifier=fixture[-1] | trim) -%}
    {%- endif -%}
    {%- set names = [] -%}
    {%- for column in (adapter.get_columns_in_relation(relation) if relation is not none else [])
            if column.name | lower not in excluded -%}
        {%- do names.append(prefix ~ '.' ~ adapter.quote(column.name)) -%}
    {%- endfor -%}
    {{ return(names | join(',\n        ') if names else prefix ~ '.*') }}
{%- endmacro %}
