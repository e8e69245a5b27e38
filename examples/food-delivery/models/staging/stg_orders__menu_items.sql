-- Menu items, one row per item_id.
select item_id, restaurant_id, name as item_name, price_cents, photo_path, updated_at
from (
    select *, row_number() over (partition by item_id order by updated_at desc) as version_rank
    from {{ source('orders', 'menu_items') }}
    where item_id is not null
)
where version_rank = 1
