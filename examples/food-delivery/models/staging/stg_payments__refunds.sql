-- Refunds, one row per refund_id.
select refund_id, payment_id, order_id, amount_cents, reason, created_at, updated_at
from (
    select *, row_number() over (partition by refund_id order by updated_at desc) as version_rank
    from {{ source('payments', 'refunds') }}
    where refund_id is not null
)
where version_rank = 1
