import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'
import { fileURLToPath, URL } from 'node:url'
import { devMock } from './mock/devMock.ts'

// The dev mock is a dev/preview *server* middleware: it never reaches the
// production bundle. Enable it in `vite preview` with YW_MOCK=1; in `vite`
// (dev) it is on unless YW_API points at a real server to proxy to.
export default defineConfig(({ command }) => {
  const apiTarget = process.env.YW_API
  const useMock = command === 'serve' ? !apiTarget || process.env.YW_MOCK === '1' : false
  return {
    plugins: [
      vue(),
      // Element Plus components are imported on demand; styles come from the
      // one full stylesheet (imported in main.ts) so themes stay consistent.
      Components({ resolvers: [ElementPlusResolver({ importStyle: false })], dts: false }),
      ...(useMock || process.env.YW_MOCK === '1' ? [devMock()] : []),
    ],
    resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
    server: apiTarget && !useMock ? { proxy: { '/api': { target: apiTarget, changeOrigin: false } } } : {},
    build: {
      target: 'es2020',
      outDir: 'dist',
      emptyOutDir: true,
      chunkSizeWarningLimit: 900,
      reportCompressedSize: true,
      rollupOptions: {
        output: {
          manualChunks(id: string) {
            if (id.includes('node_modules/echarts') || id.includes('node_modules/zrender')) return 'echarts'
            if (/node_modules\/(vue|@vue\/[a-z-]+|pinia|vue-router|vue-i18n|@intlify\/[a-z-]+)\//.test(id)) return 'vue'
            return undefined
          },
        },
      },
    },
    test: {
      environment: 'jsdom',
      include: ['src/**/*.test.ts'],
    },
  }
})
