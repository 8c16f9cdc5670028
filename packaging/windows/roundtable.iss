; Inno Setup 6 script for Roundtable (https://jrsoftware.org/ishelp/). Built by packaging/build.py on Windows:
;   iscc /DAppVersion=0.1.0 /DSourceDir=..\..\dist\roundtable /O..\..\dist roundtable.iss
; It installs the PyInstaller folder build per user (no administrator rights needed unless chosen),
; adds Start-menu entries (Roundtable, and Quick ask for the overlay), and registers an uninstaller,
; which Inno Setup writes itself ({uninstallexe}).

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\roundtable"
#endif

[Setup]
AppId={{6E0B4C57-2E1F-4E0C-9B7A-5D3C1A9F2B64}
AppName=Roundtable
AppVersion={#AppVersion}
AppPublisher=Roundtable
AppComments=Your own AI copilots on your own machine
DefaultDirName={autopf}\Roundtable
DefaultGroupName=Roundtable
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputBaseFilename=Roundtable-{#AppVersion}-setup
SetupIconFile=..\..\build\icons\roundtable.ico
UninstallDisplayIcon={app}\Roundtable.exe
UninstallDisplayName=Roundtable
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\Roundtable"; Filename: "{app}\Roundtable.exe"
Name: "{group}\Roundtable quick ask"; Filename: "{app}\Roundtable.exe"; Parameters: "overlay"
Name: "{group}\{cm:UninstallProgram,Roundtable}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\Roundtable"; Filename: "{app}\Roundtable.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\Roundtable.exe"; Description: "{cm:LaunchProgram,Roundtable}"; Flags: nowait postinstall skipifsilent

[UninstallRun]
; a running Roundtable (it waits in the tray) is asked to quit before its files are removed
Filename: "{app}\roundtable.exe"; Parameters: "quit"; Flags: runhidden skipifdoesntexist; RunOnceId: "QuitRoundtable"
