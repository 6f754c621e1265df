-- The shop's own rule relation is read: its support merge puts Ava's browsing cookie and her
-- customer id in one profile. Returns a row (and fails) when they are apart.
select count(distinct rudder_id) as profiles
from {{ ref('rudder_identity_mappings') }}
where (id_type = 'cookie_id' and id_value = 'ck-ee') or (id_type = 'customer_id' and id_value = 'c-500')
having count(distinct rudder_id) != 1
