-- Payments with their refunds; orphan and negative payments are flagged, not hidden.
with refunds as (
    select payment_id, sum(amount_cents) as refunded_cents, count(*) as refunds, max(reason) as refund_reason
    from {{ ref('stg_payments__refunds') }}
    group by payment_id
)
select
    p.payment_id,
    p.order_id,
    cast(p.created_at as date) as payment_date,
    p.created_at,
    p.method,
    p.status,
    p.failure_reason,
    p.amount_cents,
    coalesce(r.refunded_cents, 0) as refunded_cents,
    case when p.status = 'failed' then 0 else p.amount_cents - coalesce(r.refunded_cents, 0) end as net_cents,
    r.refund_reason,
    p.order_id is null as orphan_payment,
    p.amount_cents < 0 as negative_amount
from {{ ref('stg_payments__payments') }} p
left join refunds r on r.payment_id = p.payment_id
