-- Deliveries, one row per delivery_id with every stage's time.
select delivery_id, order_id, courier_id, city, status, distance_m, accepted_at, ready_at, picked_up_at, delivered_at, cancelled_at, updated_at
from (
    select *, row_number() over (partition by delivery_id order by updated_at desc) as version_rank
    from {{ source('logistics', 'deliveries') }}
    where delivery_id is not null
)
where version_rank = 1
