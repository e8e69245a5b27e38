-- Menu photos with the item each one shows (the file is named item_<item_id>.jpg).
select
    cast(replace(replace(file_name, 'item_', ''), '.jpg', '') as bigint) as item_id,
    path, file_name, bytes, sha256, content_type, width, height
from {{ source('photos', 'menu_photos') }}
