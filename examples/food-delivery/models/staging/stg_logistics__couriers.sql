-- Couriers, one row per courier_id.
select courier_id, city, vehicle, joined_at, updated_at
from (
    select *, row_number() over (partition by courier_id order by updated_at desc) as version_rank
    from {{ source('logistics', 'couriers') }}
    where courier_id is not null
)
where version_rank = 1
