-- Customers, one row per customer_id (the latest version landed).
select customer_id, email, city, user_pseudo_id, signed_up_at, updated_at
from (
    select *, row_number() over (partition by customer_id order by updated_at desc) as version_rank
    from {{ source('orders', 'customers') }}
    where customer_id is not null
)
where version_rank = 1
