{#- Restatements of closed months: every figure of a closed month x facility that differs now
    from what `custodia close` froze, with the lines that moved it (the cell's event lines whose
    newest line or event version was delivered after the close's delivery watermark). -#}
with

closed_months as (

    select * from {{ ref('stg_closed_months') }}

),

reconciliation as (

    select * from {{ ref('rpt_reconciliation_monthly') }}

),

event_lines as (

    select * from {{ ref('fct_event_lines') }}

),

staged_lines as (

    select * from {{ ref('stg_event_lines') }}

),

staged_events as (

    select * from {{ ref('stg_events') }}

),

closes as (

    -- one close per month (custodia close refuses a second one)
    select
        month,
        min(closed_at) as closed_at,
        min(closed_by) as closed_by,
        min(delivery_watermark) as delivery_watermark
    from closed_months
    group by month

),

closed_cells as (

    {% for figure in closed_figures() -%}
        {% if not loop.first %}union all{% endif %}
        select
            month,
            facility_id,
            '{{ figure }}' as figure,
            {{ figure }} as closed_value
        from closed_months
    {% endfor %}

),

current_rows as (

    select reconciliation.*
    from reconciliation
    inner join closes on reconciliation.month = closes.month

),

current_cells as (

    {% for figure in closed_figures() -%}
        {% if not loop.first %}union all{% endif %}
        select
            month,
            facility_id,
            '{{ figure }}' as figure,
            cast({{ figure }} as {{ money_type() }}) as current_value
        from current_rows
    {% endfor %}

),

compared as (

    -- a facility absent at close (or absent now) counts as 0 on that side
    select
        coalesce(closed_cells.month, current_cells.month) as month,  -- noqa: RF04
        coalesce(closed_cells.facility_id, current_cells.facility_id) as facility_id,
        coalesce(closed_cells.figure, current_cells.figure) as figure,
        coalesce(closed_cells.closed_value, 0) as closed_value,
        coalesce(current_cells.current_value, 0) as current_value
    from closed_cells
    full outer join current_cells
        on
            closed_cells.month = current_cells.month
            and closed_cells.facility_id = current_cells.facility_id
            and closed_cells.figure = current_cells.figure

),

restated as (

    select * from compared
    where closed_value <> current_value

),

line_deliveries as (

    -- the delivery that last changed a line: its newest line version or its event's
    select
        event_lines.event_line_id,
        {{ month_start('event_lines.line_at') }} as month,  -- noqa: RF04
        event_lines.facility_id,
        case
            when staged_events._file_id > staged_lines._file_id then staged_events._file_id
            else staged_lines._file_id
        end as delivered_file_id,
        case
            when staged_events._file_id > staged_lines._file_id
                then staged_events._source_file
            else staged_lines._source_file
        end as delivered_in
    from event_lines
    inner join staged_lines on event_lines.event_line_id = staged_lines.event_line_id
    inner join staged_events on event_lines.event_id = staged_events.event_id

),

late_lines as (

    select line_deliveries.*
    from line_deliveries
    inner join closes on line_deliveries.month = closes.month
    where line_deliveries.delivered_file_id > closes.delivery_watermark

),

lines_per_cell as (

    select
        month,
        facility_id,
        count(*) as lines_moved,
        {{ ordered_id_list('event_line_id') }} as moved_by_lines,
        {{ ordered_id_list('delivered_in') }} as late_deliveries
    from late_lines
    group by month, facility_id

),

final as (

    select
        restated.month,
        restated.facility_id,
        restated.figure,
        {{ to_money('restated.closed_value') }} as closed_value,
        {{ to_money('restated.current_value') }} as current_value,
        {{ to_money('restated.current_value - restated.closed_value') }} as difference,
        closes.closed_at,
        closes.closed_by,
        closes.delivery_watermark,
        cast(coalesce(lines_per_cell.lines_moved, 0) as {{ dbt.type_bigint() }}) as lines_moved,
        lines_per_cell.moved_by_lines,
        lines_per_cell.late_deliveries
    from restated
    inner join closes on restated.month = closes.month
    left join lines_per_cell
        on
            restated.month = lines_per_cell.month
            and restated.facility_id = lines_per_cell.facility_id

)

select * from final
