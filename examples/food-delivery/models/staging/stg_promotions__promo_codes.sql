-- Promo codes promotions issued, with the campaign each belongs to.
select code, campaign_id, discount_pct, valid_from, valid_to
from {{ source('promotions', 'promo_codes') }}
