import { reactive } from 'vue'
import { setNetworkHandler } from '@/api/client'

/** Whether the last API call reached the server (the live link reports separately). */
export const connection = reactive({ apiReachable: true, since: 0 })

setNetworkHandler((ok) => {
  if (ok === connection.apiReachable) return
  connection.apiReachable = ok
  connection.since = Date.now()
})
