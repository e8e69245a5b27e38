-- Payment attempts, one row per payment_id.
select payment_id, order_id, method, status, failure_reason, amount_cents, currency, provider_ref, created_at, updated_at
from (
    select *, row_number() over (partition by payment_id order by updated_at desc) as version_rank
    from {{ source('payments', 'payments') }}
    where payment_id is not null
)
where version_rank = 1
