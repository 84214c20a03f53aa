select
    id as order_id,
    customer_id,
    cast(ordered_on as date) as ordered_on,
    amount_cents / 100.0 as amount,
    status
from {{ ref('raw_orders') }}
where status <> 'returned'
