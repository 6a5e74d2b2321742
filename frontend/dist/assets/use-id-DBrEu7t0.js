import{D as e,E as t,p as n,z as r}from"./use-global-config-ByssEEM3.js";import{Ct as i,F as a,M as o}from"./vue-BWuAzBDB.js";var s={prefix:Math.floor(Math.random()*1e4),current:0},c=Symbol(`elIdInjection`),l=()=>o()?a(c,s):s,u=a=>{let o=l();!e&&o===s&&r(`IdInjection`,`Looks like you are using server rendering, you must provide a id provider to ensure the hydration process to be succeed
usage: app.provide(ID_INJECTION_KEY, {
  prefix: number,
  current: number,
})`);let c=n();return t(()=>i(a)||`${c.value}-id-${o.prefix}-${o.current++}`)};export{l as n,u as t};