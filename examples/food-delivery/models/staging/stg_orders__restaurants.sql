-- Restaurants, one row per restaurant_id.
select restaurant_id, name as restaurant_name, city, cuisine, opened_at, updated_at
from (
    select *, row_number() over (partition by restaurant_id order by updated_at desc) as version_rank
    from {{ source('orders', 'restaurants') }}
    where restaurant_id is not null
)
where version_rank = 1
