; Inno Setup 6.3+ script: per-user installer for raksbl (no administrator rights).
;
; Built by build\build_windows.ps1 after PyInstaller has made dist\raksbl\, or by hand:
;   ISCC.exe /DAppVersion=0.1.0 /DAppVersionNumeric=0.1.0 build\raksbl.iss
; Output: dist\installer\raksbl-setup-<version>.exe
;
; Where things go (all under the user's profile):
;   program   %LOCALAPPDATA%\Programs\raksbl          ({userpf}\raksbl)
;   settings  %LOCALAPPDATA%\raksbl\raksbl.toml       (platformdirs user_config_dir("raksbl", appauthor=False))
;   journal   %LOCALAPPDATA%\raksbl\journal.sqlite3   (user_data_dir: the same folder)
;   logs      %LOCALAPPDATA%\raksbl\logs\
;   secrets   Windows Credential Manager, service "raksbl"
;   autostart HKCU\Software\Microsoft\Windows\CurrentVersion\Run, value "raksbl" — the same value
;             the tray menu's "start at login" switches (ui/autostart.py), so both agree; Task
;             Manager's switch for it is ...\Explorer\StartupApproved\Run (odd first byte = off).
;             An upgrade shows the task ticked only if autostart is on now, and a silent upgrade
;             leaves it as it is: the user's choice is never re-created behind their back.
;
; Stopping the running agent (upgrade, uninstall): `taskkill` without /F posts WM_CLOSE, the
; agent quits like its "Zakończ" (a run stops at its next recovery point), and Setup waits for
; the agent's mutex "raksbl-agent" (ui/app.py) to vanish; it forces only after 2 minutes.
;
; The uninstaller keeps settings, journal, logs and secrets unless the user says otherwise:
; the journal is what stops a reinstalled agent from sending the same documents twice.
;
; This file is UTF-8 with a BOM (Polish texts); keep the BOM when editing.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
; Windows' file version must be numbers only (0.2.0rc1 -> 0.2.0); build_windows.ps1 passes both
#ifndef AppVersionNumeric
  #define AppVersionNumeric "0.0.0"
#endif
#define AppName "raksbl"
#define AppExe "raksbl.exe"
#define CliExe "raksbl-cli.exe"
#define Bundle "..\dist\raksbl"

[Setup]
AppId={{53905D4C-021C-4425-808D-3940B98E5BFE}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=raksbl
AppComments=Wysyła faktury i paragony z RaksSQL (z PDF) do zamówień w BaseLinker.
VersionInfoVersion={#AppVersionNumeric}
; per user, no UAC prompt: everything lands in the user's profile
PrivilegesRequired=lowest
DefaultDirName={userpf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
DisableDirPage=auto
UsePreviousAppDir=yes
; the bundle holds 64-bit Python; a 32-bit build needs these two lines removed
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\dist\installer
OutputBaseFilename=raksbl-setup-{#AppVersion}
SetupIconFile={#Bundle}\_internal\assets\raksbl.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
WizardStyle=modern
Compression=lzma2/max
SolidCompression=yes
; a running tray agent keeps raksbl.exe open: PrepareToInstall stops it politely first; the
; Restart Manager (WM_QUERYENDSESSION/WM_ENDSESSION, which the agent answers by stopping at a
; recovery point) is the fallback for anything still holding a file
CloseApplications=force
RestartApplications=no
ShowLanguageDialog=no
; the autostart task's state comes from the real state on this PC, not from the last install
UsePreviousTasks=no
#ifdef Sign
; build_windows.ps1 defines the "raksblsign" tool (ISCC /S) when a certificate is configured
SignTool=raksblsign
SignedUninstaller=yes
#endif

[Languages]
Name: "polish"; MessagesFile: "compiler:Languages\Polish.isl"

[Tasks]
Name: "autostart"; Description: "Uruchamiaj przy starcie systemu"; GroupDescription: "Dodatkowo:"
Name: "desktopicon"; Description: "Skrót na pulpicie"; GroupDescription: "Dodatkowo:"; Flags: unchecked

[InstallDelete]
; PyInstaller's _internal differs between versions: no leftovers of the previous one
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#Bundle}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "Wysyłanie dokumentów z RaksSQL do BaseLinker"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

; No [Registry] entry for autostart: [Code] ApplyAutostart writes *or removes* the Run value
; after installing (a [Registry] entry could only ever add it back).

[Run]
Filename: "{app}\{#AppExe}"; Description: "Uruchom raksbl teraz"; Flags: nowait postinstall skipifsilent

[Code]
const
  RunKey = 'Software\Microsoft\Windows\CurrentVersion\Run';
  ApprovedKey = 'Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run';
  RunValue = 'raksbl';
  UninstallKey = 'Software\Microsoft\Windows\CurrentVersion\Uninstall\{53905D4C-021C-4425-808D-3940B98E5BFE}_is1';
  AgentMutex = 'raksbl-agent';
  PoliteStopMs = 120000;

var
  DeleteUserData: Boolean;
  HadPreviousInstall: Boolean;
  AutostartWasOn: Boolean;
  TasksPageShown: Boolean;

{ Autostart as the user sees it in Task Manager: a Run value that Task Manager did not disable. }
function AutostartIsOn: Boolean;
var
  Command: String;
  Approved: AnsiString;
begin
  Result := RegQueryStringValue(HKCU, RunKey, RunValue, Command) and (Command <> '');
  if Result and RegQueryBinaryValue(HKCU, ApprovedKey, RunValue, Approved) and (Length(Approved) > 0) then
    Result := (Ord(Approved[1]) and 1) = 0;
end;

function InitializeSetup: Boolean;
begin
  HadPreviousInstall := RegValueExists(HKCU, UninstallKey, 'UninstallString');
  AutostartWasOn := AutostartIsOn;
  TasksPageShown := False;
  Result := True;
end;

procedure CurPageChanged(CurPageID: Integer);
begin
  if (CurPageID = wpSelectTasks) and not TasksPageShown then
  begin
    TasksPageShown := True;
    { an upgrade offers what is true now: switched off by the user = unticked }
    if HadPreviousInstall then
    begin
      if AutostartWasOn then
        WizardSelectTasks('autostart')
      else
        WizardSelectTasks('!autostart');
    end;
  end;
end;

procedure RemoveAutostartEntry;
var
  Command: String;
begin
  { remove it only when it starts this installation (not another copy of raksbl) }
  if RegQueryStringValue(HKCU, RunKey, RunValue, Command) and
     (Pos(Lowercase(ExpandConstant('{app}')), Lowercase(Command)) > 0) then
  begin
    RegDeleteValue(HKCU, RunKey, RunValue);
    RegDeleteValue(HKCU, ApprovedKey, RunValue);
  end;
end;

procedure ApplyAutostart;
begin
  { a silent upgrade never saw the task: the user's current choice stays as it is }
  if HadPreviousInstall and not TasksPageShown then
    Exit;
  if WizardIsTaskSelected('autostart') then
  begin
    RegWriteStringValue(HKCU, RunKey, RunValue, '"' + ExpandConstant('{app}\{#AppExe}') + '" tray');
    { ticked although Task Manager had it disabled: the user just asked for it }
    if not AutostartWasOn then
      RegDeleteValue(HKCU, ApprovedKey, RunValue);
  end
  else
    RemoveAutostartEntry;
end;

procedure CurStepChanged(CurStep: TSetupStep);
begin
  if CurStep = ssPostInstall then
    ApplyAutostart;
end;

function AgentRunning: Boolean;
begin
  Result := CheckForMutexes(AgentMutex);
end;

{ End the tray agent of this user: it keeps raksbl.exe and its DLLs open. Politely first:
  taskkill without /F posts WM_CLOSE, the agent stops its run at the next recovery point and
  exits; wait for its mutex to vanish. Forced only when it does not stop within 2 minutes (or an
  old agent without the mutex); the export journal survives even that (crash-safe by design). }
procedure StopAgent;
var
  ResultCode, Waited: Integer;
  Filter: String;
begin
  Filter := ' /FI "USERNAME eq ' + GetUserNameString + '"';
  if AgentRunning then
  begin
    Exec(ExpandConstant('{sys}\taskkill.exe'), '/IM {#AppExe}' + Filter, '', SW_HIDE,
         ewWaitUntilTerminated, ResultCode);
    Waited := 0;
    while AgentRunning and (Waited < PoliteStopMs) do
    begin
      Sleep(500);
      Waited := Waited + 500;
    end;
    if not AgentRunning then
      Exit;
    Log('raksbl did not stop within ' + IntToStr(PoliteStopMs div 1000) + ' s; forcing it');
  end
  else if Exec(ExpandConstant('{sys}\taskkill.exe'), '/IM {#AppExe}' + Filter, '', SW_HIDE,
               ewWaitUntilTerminated, ResultCode) and (ResultCode = 0) then
    Sleep(3000);  { an agent older than the mutex }
  Exec(ExpandConstant('{sys}\taskkill.exe'), '/F /IM {#AppExe}' + Filter, '', SW_HIDE,
       ewWaitUntilTerminated, ResultCode);
end;

function PrepareToInstall(var NeedsRestart: Boolean): String;
begin
  StopAgent;
  Result := '';
end;

function UserDataDir: String;
begin
  Result := ExpandConstant('{localappdata}\raksbl');
end;

procedure DeleteSecret(const Name: String);
var
  ResultCode: Integer;
begin
  { the console exe, hidden; it removes the entry from Windows Credential Manager }
  Exec(ExpandConstant('{app}\{#CliExe}'), 'secret delete ' + Name, '', SW_HIDE,
       ewWaitUntilTerminated, ResultCode);
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  case CurUninstallStep of
    usUninstall:
      begin
        StopAgent;
        DeleteUserData := False;
        { a silent uninstall never deletes the user's data }
        if not UninstallSilent then
          DeleteUserData := MsgBox(
            'Czy usunąć także ustawienia, dziennik wysłanych dokumentów, logi i zapisane hasła raksbl?' + #13#10#13#10 +
            'Folder: ' + UserDataDir + #13#10 +
            'Hasła: Menedżer poświadczeń Windows (raksbl).' + #13#10#13#10 +
            'Dziennik pamięta, które dokumenty już wysłano do BaseLinker. Jeśli zainstalujesz raksbl ' +
            'ponownie, chroni przed wysłaniem ich drugi raz. Jeśli nie masz pewności, wybierz „Nie”.',
            mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES;
        if DeleteUserData then
        begin
          { before [Files] are removed: the secrets are deleted by raksbl-cli.exe itself }
          DeleteSecret('baselinker-token');
          DeleteSecret('raks-password');
        end;
        RemoveAutostartEntry;
      end;
    usPostUninstall:
      if DeleteUserData then
      begin
        DelTree(UserDataDir, True, True, True);
        { not used by this version (settings are local, not roaming); removed if an older build left it }
        DelTree(ExpandConstant('{userappdata}\raksbl'), True, True, True);
      end;
  end;
end;
