; yiwang 一网统管 — Windows setup, built on Linux with makensis (Debian's nsis).
; Use installer/windows/build.sh rather than calling makensis directly.
;
; Defines (makensis -DNAME=VALUE):
;   VERSION      display version, e.g. 1.2.3 or 0.0.0+git.12.abcdef (required)
;   VIVERSION    numeric X.X.X.X for the file's version resource (required)
;   SERVER_EXE   path of yiwang.exe (required: CGO_ENABLED=0 GOOS=windows go build)
;   DESKTOP_EXE  path of yiwang-desktop.exe (optional; without it the setup
;                installs the server only)
;   OUTFILE      path of the setup .exe to write (required)
;   SIGN_CMD     command that Authenticode-signs the file given as %1 (optional;
;                build.sh sets it when a certificate is configured)
;
; What it does: installs into Program Files\yiwang; optionally registers the
; server as a Windows service (yiwang.exe service install) with its data in
; %ProgramData%\yiwang; opens TCP 1883 and 8883 (MQTT) in Windows Firewall;
; adds Start-menu entries; writes an uninstaller that keeps the data unless
; the user ticks "delete data". Chinese (default) and English UI.

Unicode true
ManifestDPIAware true
SetCompressor /SOLID lzma
RequestExecutionLevel admin

!ifndef VERSION | VIVERSION | SERVER_EXE | OUTFILE
  !error "build with installer/windows/build.sh (VERSION, VIVERSION, SERVER_EXE, OUTFILE are required)"
!endif

!define APPNAME "yiwang"
!define PUBLISHER "yiwang"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\yiwang"
!define SERVICE_NAME "yiwang"
!define FW_MQTT "yiwang MQTT (TCP 1883, 8883)"
!define FW_HTTP "yiwang console (TCP 8080)"

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "x64.nsh"
!include "Sections.nsh"

Name "yiwang 一网统管 ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\yiwang"
InstallDirRegKey HKLM "${UNINST_KEY}" "InstallLocation"
ShowInstDetails show
ShowUninstDetails show
BrandingText "yiwang ${VERSION}"

VIProductVersion "${VIVERSION}"
VIFileVersion "${VIVERSION}"
VIAddVersionKey /LANG=0 "ProductName" "yiwang"
VIAddVersionKey /LANG=0 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "FileDescription" "yiwang 一网统管 setup"
VIAddVersionKey /LANG=0 "CompanyName" "${PUBLISHER}"
VIAddVersionKey /LANG=0 "LegalCopyright" "yiwang"

!ifdef SIGN_CMD
  !finalize '${SIGN_CMD} "%1"'
  !uninstfinalize '${SIGN_CMD} "%1"'
!endif

; ---- pages -------------------------------------------------------------------
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_SMALLDESC
!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!define MUI_FINISHPAGE_LINK "$(LINK_CONSOLE)"
!define MUI_FINISHPAGE_LINK_LOCATION "http://127.0.0.1:8080/"
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_COMPONENTS
!insertmacro MUI_UNPAGE_INSTFILES

; The first language is the default; the language dialog lets the user pick.
!insertmacro MUI_LANGUAGE "SimpChinese"
!insertmacro MUI_LANGUAGE "English"
!insertmacro MUI_RESERVEFILE_LANGDLL

LangString LINK_CONSOLE ${LANG_SIMPCHINESE} "打开控制台 http://127.0.0.1:8080/"
LangString LINK_CONSOLE ${LANG_ENGLISH} "Open the console at http://127.0.0.1:8080/"
LangString SEC_CORE ${LANG_SIMPCHINESE} "yiwang 程序文件（必需）"
LangString SEC_CORE ${LANG_ENGLISH} "yiwang program files (required)"
LangString DESC_CORE ${LANG_SIMPCHINESE} "服务器程序 yiwang.exe 与桌面端。"
LangString DESC_CORE ${LANG_ENGLISH} "The server yiwang.exe and the desktop app."
LangString SEC_SERVICE ${LANG_SIMPCHINESE} "作为 Windows 服务运行服务器"
LangString SEC_SERVICE ${LANG_ENGLISH} "Run the server as a Windows service"
LangString DESC_SERVICE ${LANG_SIMPCHINESE} "开机自动启动 yiwang 服务器（数据位于 ProgramData\yiwang）。本机作为县级平台服务器时选择。"
LangString DESC_SERVICE ${LANG_ENGLISH} "Start the yiwang server at boot (data in ProgramData\yiwang). Choose this on the county's server machine."
LangString SEC_FW ${LANG_SIMPCHINESE} "防火墙放行 MQTT 端口 1883、8883"
LangString SEC_FW ${LANG_ENGLISH} "Open MQTT ports 1883 and 8883 in the firewall"
LangString DESC_FW ${LANG_SIMPCHINESE} "允许局域网内的传感器和网关连接本机的 MQTT 服务。"
LangString DESC_FW ${LANG_ENGLISH} "Let sensors and gateways on the LAN reach the MQTT broker."
LangString SEC_FWHTTP ${LANG_SIMPCHINESE} "防火墙放行控制台端口 8080"
LangString SEC_FWHTTP ${LANG_ENGLISH} "Open console port 8080 in the firewall"
LangString DESC_FWHTTP ${LANG_SIMPCHINESE} "允许局域网内的浏览器访问控制台（还需在 yiwang.toml 中设置监听地址）。"
LangString DESC_FWHTTP ${LANG_ENGLISH} "Let browsers on the LAN reach the console (also set the listen address in yiwang.toml)."
LangString SEC_MENU ${LANG_SIMPCHINESE} "开始菜单快捷方式"
LangString SEC_MENU ${LANG_ENGLISH} "Start-menu shortcuts"
LangString DESC_MENU ${LANG_SIMPCHINESE} "在开始菜单中添加 yiwang 程序、控制台和卸载的快捷方式。"
LangString DESC_MENU ${LANG_ENGLISH} "Add Start-menu entries for yiwang, the console and the uninstaller."
LangString MENU_CONSOLE ${LANG_SIMPCHINESE} "yiwang 控制台"
LangString MENU_CONSOLE ${LANG_ENGLISH} "yiwang console"
LangString MENU_DESKTOP ${LANG_SIMPCHINESE} "yiwang 一网统管"
LangString MENU_DESKTOP ${LANG_ENGLISH} "yiwang"
LangString MENU_UNINSTALL ${LANG_SIMPCHINESE} "卸载 yiwang"
LangString MENU_UNINSTALL ${LANG_ENGLISH} "Uninstall yiwang"
LangString MENU_ADMIN ${LANG_SIMPCHINESE} "创建管理员（命令行）"
LangString MENU_ADMIN ${LANG_ENGLISH} "Create an administrator (command line)"
LangString MSG_SERVICE_FAIL ${LANG_SIMPCHINESE} "服务安装失败，请以管理员身份运行：yiwang.exe service install"
LangString MSG_SERVICE_FAIL ${LANG_ENGLISH} "Installing the service failed; run as administrator: yiwang.exe service install"
LangString SEC_UNDATA ${LANG_SIMPCHINESE} "同时删除全部数据（不可恢复）"
LangString SEC_UNDATA ${LANG_ENGLISH} "Also delete all data (cannot be undone)"
LangString DESC_UNDATA ${LANG_SIMPCHINESE} "勾选后删除 ProgramData\yiwang 中的数据库、知识库和备份。默认保留数据。"
LangString DESC_UNDATA ${LANG_ENGLISH} "When ticked, deletes the database, knowledge base and backups in ProgramData\yiwang. Data is kept by default."
LangString SEC_UNPROG ${LANG_SIMPCHINESE} "卸载 yiwang 程序"
LangString SEC_UNPROG ${LANG_ENGLISH} "Remove the yiwang program"

Var DataDir

; ---- install -----------------------------------------------------------------
Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "yiwang requires 64-bit Windows. yiwang 需要 64 位 Windows。"
    Abort
  ${EndIf}
  SetRegView 64
  SetShellVarContext all
  StrCpy $DataDir "$APPDATA\yiwang" ; $APPDATA with context "all" is %ProgramData%
  !insertmacro MUI_LANGDLL_DISPLAY
!ifdef DESKTOP_EXE
  ; With a desktop app, a workstation is the common case: the service is opt-in.
  !insertmacro UnselectSection ${SecService}
!endif
FunctionEnd

Section "$(SEC_CORE)" SecCore
  SectionIn RO
  SetOutPath "$INSTDIR"
  ; An upgrade replaces a running server: stop it first (errors ignored).
  ${If} ${FileExists} "$INSTDIR\yiwang.exe"
    nsExec::ExecToLog '"$INSTDIR\yiwang.exe" service stop'
    Pop $0
  ${EndIf}
  File "/oname=yiwang.exe" "${SERVER_EXE}"
!ifdef DESKTOP_EXE
  File "/oname=yiwang-desktop.exe" "${DESKTOP_EXE}"
!endif
  CreateDirectory "$DataDir"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  WriteRegStr HKLM "${UNINST_KEY}" "DisplayName" "yiwang 一网统管"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKLM "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINST_KEY}" "DataLocation" "$DataDir"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\yiwang.exe"
  WriteRegStr HKLM "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoRepair" 1
SectionEnd

Section "$(SEC_SERVICE)" SecService
  DetailPrint "yiwang.exe service install --data $DataDir"
  nsExec::ExecToLog '"$INSTDIR\yiwang.exe" service install --data "$DataDir"'
  Pop $0
  ${If} $0 != 0
    MessageBox MB_ICONEXCLAMATION "$(MSG_SERVICE_FAIL)" /SD IDOK
  ${Else}
    nsExec::ExecToLog '"$INSTDIR\yiwang.exe" service start'
    Pop $0
    WriteRegDWORD HKLM "${UNINST_KEY}" "ServiceInstalled" 1
  ${EndIf}
SectionEnd

Section "$(SEC_FW)" SecFirewall
  nsExec::ExecToLog 'netsh advfirewall firewall delete rule name="${FW_MQTT}"'
  Pop $0
  nsExec::ExecToLog 'netsh advfirewall firewall add rule name="${FW_MQTT}" dir=in action=allow protocol=TCP localport=1883,8883 program="$INSTDIR\yiwang.exe" enable=yes profile=domain,private'
  Pop $0
SectionEnd

Section /o "$(SEC_FWHTTP)" SecFirewallHTTP
  nsExec::ExecToLog 'netsh advfirewall firewall delete rule name="${FW_HTTP}"'
  Pop $0
  nsExec::ExecToLog 'netsh advfirewall firewall add rule name="${FW_HTTP}" dir=in action=allow protocol=TCP localport=8080 program="$INSTDIR\yiwang.exe" enable=yes profile=domain,private'
  Pop $0
SectionEnd

Section "$(SEC_MENU)" SecMenu
  CreateDirectory "$SMPROGRAMS\yiwang"
!ifdef DESKTOP_EXE
  CreateShortcut "$SMPROGRAMS\yiwang\$(MENU_DESKTOP).lnk" "$INSTDIR\yiwang-desktop.exe"
  CreateShortcut "$DESKTOP\$(MENU_DESKTOP).lnk" "$INSTDIR\yiwang-desktop.exe"
!endif
  WriteINIStr "$SMPROGRAMS\yiwang\$(MENU_CONSOLE).url" "InternetShortcut" "URL" "http://127.0.0.1:8080/"
  CreateShortcut "$SMPROGRAMS\yiwang\$(MENU_ADMIN).lnk" "$SYSDIR\cmd.exe" '/k "$INSTDIR\yiwang.exe" admin create --data "$DataDir" --user admin --password-stdin'
  CreateShortcut "$SMPROGRAMS\yiwang\$(MENU_UNINSTALL).lnk" "$INSTDIR\uninstall.exe"
SectionEnd

!insertmacro MUI_FUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecCore} "$(DESC_CORE)"
  !insertmacro MUI_DESCRIPTION_TEXT ${SecService} "$(DESC_SERVICE)"
  !insertmacro MUI_DESCRIPTION_TEXT ${SecFirewall} "$(DESC_FW)"
  !insertmacro MUI_DESCRIPTION_TEXT ${SecFirewallHTTP} "$(DESC_FWHTTP)"
  !insertmacro MUI_DESCRIPTION_TEXT ${SecMenu} "$(DESC_MENU)"
!insertmacro MUI_FUNCTION_DESCRIPTION_END

; ---- uninstall ---------------------------------------------------------------
Function un.onInit
  SetRegView 64
  SetShellVarContext all
  ReadRegStr $DataDir HKLM "${UNINST_KEY}" "DataLocation"
  ${If} $DataDir == ""
    StrCpy $DataDir "$APPDATA\yiwang"
  ${EndIf}
  !insertmacro MUI_UNGETLANGUAGE
FunctionEnd

Section "-un.$(SEC_UNPROG)" SecUnProgram
  ; Stops and removes the service if it is installed (errors ignored).
  ${If} ${FileExists} "$INSTDIR\yiwang.exe"
    nsExec::ExecToLog '"$INSTDIR\yiwang.exe" service uninstall'
    Pop $0
  ${EndIf}
  nsExec::ExecToLog 'netsh advfirewall firewall delete rule name="${FW_MQTT}"'
  Pop $0
  nsExec::ExecToLog 'netsh advfirewall firewall delete rule name="${FW_HTTP}"'
  Pop $0

  Delete "$INSTDIR\yiwang.exe"
  Delete "$INSTDIR\yiwang-desktop.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  RMDir /r "$SMPROGRAMS\yiwang"
  Delete "$DESKTOP\yiwang 一网统管.lnk"
  Delete "$DESKTOP\yiwang.lnk"
  DeleteRegKey HKLM "${UNINST_KEY}"
SectionEnd

; Unticked by default (/o): data survives unless the user asks, and a silent
; uninstall (/S) always keeps it.
Section /o "un.$(SEC_UNDATA)" SecUnData
  DetailPrint "RMDir /r $DataDir"
  RMDir /r "$DataDir"
SectionEnd

!insertmacro MUI_UNFUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecUnData} "$(DESC_UNDATA)"
!insertmacro MUI_UNFUNCTION_DESCRIPTION_END
