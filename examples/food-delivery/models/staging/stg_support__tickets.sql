-- Support tickets, one row per ticket_id: the export repeats tickets edited while it ran.
select ticket_id, order_id, customer_id, created_at, first_response_at, solved_at,
       category, channel, priority, satisfaction_score
from (
    select
        cast(ticket_id as bigint) as ticket_id,
        cast(order_id as bigint) as order_id,
        cast(customer_id as bigint) as customer_id,
        to_timestamp_micros(created_at) as created_at,
        to_timestamp_micros(first_response_at) as first_response_at,
        to_timestamp_micros(solved_at) as solved_at,
        category,
        channel,
        priority,
        cast(satisfaction_score as bigint) as satisfaction_score,
        row_number() over (partition by ticket_id order by solved_at desc nulls last) as copy_rank
    from {{ source('support', 'tickets') }}
    where ticket_id is not null
)
where copy_rank = 1
