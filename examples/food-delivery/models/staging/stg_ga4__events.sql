-- GA4 events flattened: the parameters and traffic source a model needs become columns.
-- `distinct` drops the export's exact duplicate lines.
select distinct
    to_date(event_date, '%Y%m%d') as event_date,
    to_timestamp_micros(event_timestamp) as event_at,
    event_timestamp,
    event_name,
    user_pseudo_id,
    user_id,
    cast(event_param(event_params, 'ga_session_id') as bigint) as ga_session_id,
    event_param(event_params, 'page_location') as page_location,
    coalesce(collected_traffic_source['manual_campaign_name'], '(direct)') as campaign,
    collected_traffic_source['manual_source'] as campaign_source,
    collected_traffic_source['manual_medium'] as campaign_medium,
    device['category'] as device_category,
    geo['city'] as city,
    ecommerce['transaction_id'] as transaction_id,
    ecommerce['purchase_revenue'] as purchase_revenue
from {{ source('ga4', 'events') }}
