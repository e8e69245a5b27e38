-- One row per delivery with stage durations, by city, hour and courier vehicle.
select
    o.delivery_id,
    o.order_id,
    o.order_date,
    o.order_hour,
    o.order_hour between 11 and 13 or o.order_hour between 18 and 20 as peak_hour,
    o.city,
    o.restaurant_id,
    o.restaurant_name,
    o.courier_id,
    c.vehicle,
    o.status,
    o.distance_m,
    o.accept_minutes,
    o.prep_minutes,
    o.wait_for_courier_minutes,
    o.ride_minutes,
    o.end_to_end_minutes,
    o.minutes_late,
    o.on_time,
    o.pickup_after_dropoff,
    p.delivery_id is not null as has_proof_photo
from {{ ref('fct_orders') }} o
left join {{ ref('stg_logistics__couriers') }} c on c.courier_id = o.courier_id
left join {{ ref('stg_photos__delivery_photos') }} p on p.delivery_id = o.delivery_id
where o.delivery_id is not null
