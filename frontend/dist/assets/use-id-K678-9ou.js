import{M as e,P as t,X as n,p as r}from"./use-global-config-Dqa_WM9e.js";import{I as i,M as a,Tt as o}from"./vue-DC773rRY.js";var s={prefix:Math.floor(Math.random()*1e4),current:0},c=Symbol(`elIdInjection`),l=()=>a()?i(c,s):s,u=i=>{let a=l();!t&&a===s&&n(`IdInjection`,`Looks like you are using server rendering, you must provide a id provider to ensure the hydration process to be succeed
usage: app.provide(ID_INJECTION_KEY, {
  prefix: number,
  current: number,
})`);let c=r();return e(()=>o(i)||`${c.value}-id-${a.prefix}-${a.current++}`)};export{l as n,u as t};