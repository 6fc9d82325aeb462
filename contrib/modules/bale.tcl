# bale: mount this module's software image while the module is loaded.
# Append to a Tcl modulefile (Environment Modules); `bale modulefile --tcl`
# prints it with its placeholders filled in (contrib/modules/README.md in bale).
# Lmod, when it reads a Tcl modulefile, names unload "remove".
if {[module-info mode load] || [module-info mode unload] || [module-info mode remove]} {
    # NAME/VERSION of the image; empty: this module's own name.
    set bale_module {@MODULE@}
    if {$bale_module eq {}} {
        set bale_module [module-info name]
    }
    # The image's name for the SLURM TaskProlog, which sees only the
    # environment (LOADEDMODULES has the modulefile's name); undone on unload.
    append-path BALE_MODULES $bale_module
    set bale_action [expr {[module-info mode load] ? "load" : "unload"}]
    # Synchronous, so a strict site can abort the load; the hook is silent
    # and exits 0 unless the site sets strict_modules = true. Its one-line
    # message replaces Tcl's own text.
    if {[catch {exec {@BALE@} module-hook $bale_action $bale_module 2>@1} bale_said]} {
        set bale_message [lindex [split $bale_said "\n"] 0]
        if {[module-info mode load]} {
            error $bale_message
        }
        puts stderr $bale_message
    }
}
