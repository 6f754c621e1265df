-- The var's `limit: 1` on customer_id binds: a shared cookie does not glue two customers.
select rudder_id
from {{ ref('rudder_identity_mappings') }}
where id_type = 'customer_id'
group by rudder_id
having count(*) > 1
