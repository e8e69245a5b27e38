-- Proofs of delivery with the delivery each one documents (delivery_<delivery_id>.png).
select
    cast(replace(replace(file_name, 'delivery_', ''), '.png', '') as bigint) as delivery_id,
    path, file_name, bytes, sha256, content_type, width, height
from {{ source('photos', 'delivery_photos') }}
