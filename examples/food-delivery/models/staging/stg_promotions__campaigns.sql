-- Marketing campaigns; utm_campaign is how GA4 names them.
select campaign_id, name as campaign_name, utm_campaign, source as campaign_source,
       medium as campaign_medium, starts_at, ends_at, budget_cents
from {{ source('promotions', 'campaigns') }}
