# Embeds migrations/NNNN_name.sql into a C++ source at build time, so the
# binary carries its own schema and never reads SQL files at run time.
function(lrb_embed_migrations dir out)
  file(GLOB files CONFIGURE_DEPENDS ${dir}/[0-9][0-9][0-9][0-9]_*.sql)
  list(SORT files)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DDIR=${dir} -DOUT=${out}
            -P ${PROJECT_SOURCE_DIR}/cmake/EmbedMigrationsRun.cmake
    DEPENDS ${files} ${PROJECT_SOURCE_DIR}/cmake/EmbedMigrationsRun.cmake
    COMMENT "Embedding SQL migrations")
endfunction()
