-- bale: mount this module's software image while the module is loaded.
-- Append to a Lua modulefile (Lmod); `bale modulefile --lmod` prints it
-- with its placeholders filled in (contrib/modules/README.md in bale).
if mode() == "load" or mode() == "unload" then
   -- NAME/VERSION of the image; empty: this module's own name.
   local bale_module = "@MODULE@"
   if bale_module == "" then
      bale_module = myModuleFullName()
   end
   -- The image's name for the SLURM TaskProlog, which sees only the
   -- environment (LOADEDMODULES has the modulefile's name); undone on unload.
   append_path("BALE_MODULES", bale_module)
   -- Synchronous, so a strict site can abort the load; the hook is silent
   -- and exits 0 unless the site sets strict_modules = true.
   local bale_said = subprocess("'@BALE@' module-hook " .. mode() .. " '"
      .. (bale_module:gsub("'", "'\\''")) .. "' 2>&1; echo \"$?\"")
   local bale_message, bale_status = bale_said:match("^(.-)\n?(%d+)\n$")
   if bale_status ~= "0" then
      if mode() == "load" then
         LmodError(bale_message)
      else
         LmodMessage(bale_message)
      end
   end
end
